#!/usr/bin/env bash
# Builds pair.c for Open MPI and MPICH and runs it RUNS times on 2 ranks with each (default 5 and 3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=${TMPDIR:-/tmp}/swift-mpi-probe-cost
mkdir -p "$out"
mpicc.openmpi -O2 -o "$out/pair-openmpi" pair.c
mpicc.mpich -O2 -o "$out/pair-mpich" pair.c
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for i in $(seq 1 "${RUNS_OPENMPI:-5}"); do
    echo "# Open MPI, run $i"
    timeout 120 mpirun.openmpi --oversubscribe -n 2 "$out/pair-openmpi"
done
for i in $(seq 1 "${RUNS_MPICH:-3}"); do
    echo "# MPICH, run $i"
    timeout 120 mpirun.mpich -n 2 "$out/pair-mpich"
done
