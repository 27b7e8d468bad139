#!/usr/bin/env bash
# Interleaved shallow-water runs: sendrecv and neighbour exchange, 2 and 4 ranks (and 2x2 at 4).
# Usage: docs/performance/shallow-water-exchange.sh BINARY PAIRS DAYS OUT.csv (Open MPI, from the repository root)
set -u
bin=$1; pairs=$2; days=$3; out=$4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "pair,ranks,grid,exchange,seconds,steps_per_s,load1" > "$out"
for p in $(seq 1 "$pairs"); do
  for cfg in "2 auto" "4 auto" "4 2x2"; do
    set -- $cfg; n=$1; g=$2
    gridarg=(); [ "$g" != auto ] && gridarg=(--process-grid "$g")
    if [ $((p % 2)) -eq 1 ]; then order="sendrecv neighbor"; else order="neighbor sendrecv"; fi
    for ex in $order; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      line=$(timeout 300 mpirun --oversubscribe -n "$n" "$bin" --benchmark --days "$days" --halo-exchange "$ex" "${gridarg[@]}" 2>&1 | grep "time stepping")
      s=$(echo "$line" | sed -E 's/.*time stepping +([0-9.]+) s, ([0-9]+) steps.*/\1/')
      r=$(echo "$line" | sed -E 's/.*time stepping +([0-9.]+) s, ([0-9]+) steps.*/\2/')
      echo "$p,$n,$g,$ex,$s,$r,$load" >> "$out"
    done
  done
done
