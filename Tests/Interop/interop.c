/*
 * The C side of the wire-compatibility jobs: plain MPI calls, run in one MPMD
 * job beside the Swift program Examples/Interop/main.swift (mpi-interop).
 *
 *   mpicc.openmpi -o interop-c Tests/Interop/interop.c      (or mpicc.mpich)
 *   mpirun -n 1 .build/debug/mpi-interop MODE PRIMITIVE... : -n 1 ./interop-c MODE PRIMITIVE...
 *
 * MODE: `world` runs the primitives on MPI_COMM_WORLD; `default` runs one
 * MPI_Barrier on MPI_COMM_WORLD, then MPI_Comm_dup(MPI_COMM_WORLD), and the
 * primitives on the duplicate: that is where the Swift rank first uses
 * `comm: nil`, so where the package must create its default communicator.
 * PRIMITIVE: allgather allreduce alltoall barrier bcast gather reduce scan
 * scatter sendrecv send-recv allgatherv gatherv scatterv alltoallv
 * reduce-scatter-block exscan reduce-scatter isend-irecv iallreduce ibcast
 * iallgather igather iscatter neighbor-allgather neighbor-alltoall
 * neighbor-allgatherv neighbor-alltoallv persistent, or `all` (every one, in that
 * order). Collectives with a root run once per root.
 *
 * The data, for rank r of n, element i of a block of K = 3 (int32 unless said):
 *   allgather  rank r sends 1000r + i + 1
 *   allreduce  double (r+1)(i+1) + 0.5, summed; then int32 10r + i, max
 *   alltoall   block d of rank r: 10000r + 100d + i
 *   barrier    three barriers
 *   bcast      the root's block: 100root + i + 1 (others pass -1s)
 *   gather     rank r sends 100r + 10root + i
 *   reduce     double (r+1)(i+1) + root, summed onto root
 *   scan       double (r+1)(i+1), inclusive prefix sum
 *   scatter    the root's block d: 1000root + 10d + i
 *   sendrecv   for each shift s in 1..n-1: to r+s, from r-s, tag s: 500r + 50s + i
 *   send-recv  for each ordered pair (src, dst), in one global order, tag 10 + src:
 *              100src + 10dst + i
 * The variable-size collectives: rank s's count in round t (t is the root, 0 for
 * allgatherv) is vcount(s, t) = 0 when s == (t + 1) % n, else 1 + (s + 2t) % 4
 * (ragged, a zero count on a different rank for each root); the blocks are packed.
 *   allgatherv rank s sends vcount(s, 0) elements 1000s + i + 1, twice (the Swift
 *              side's second call is the into: form with displacements that leave
 *              gaps: the displacements are local, the messages the same)
 *   gatherv    rank s sends vcount(s, root) elements 100s + 10root + i, twice per
 *              root (likewise)
 *   scatterv   the root's block d: vcount(d, root) elements 1000root + 10d + i
 *   alltoallv  src s to dst d: acount(s, d) = 0 when s == (d + 1) % n, else
 *              1 + s + 2d elements, 10000s + 100d + i, twice (likewise, with gapped
 *              receive displacements on the Swift side)
 *   reduce-scatter-block  double (r+1)(d+1) + i in block d (K each), summed;
 *              then int32 10r + d + i, max
 *   exscan     double (r+1)(i+1), exclusive prefix sum (rank 0's result unchecked
 *              here: MPI leaves it undefined); then int32 r + i, sum
 * The non-blocking ones, on the Swift side isend/irecv/iallreduce/ibcast/iallgather
 * waited with wait():
 *   reduce-scatter  block d of vcount(d, 0) elements double (r+1)(d+1) + i, summed
 *              (MPI_Reduce_scatter: rank d gets block d)
 *   isend-irecv  as send-recv, 200src + 10dst + i, twice: tag 20 + src, then 30 + src;
 *              here MPI_Send and MPI_Recv in send-recv's global order both times; the
 *              Swift side waits for each request at once the first time, and the
 *              second starts all its irecvs (highest source first), then all its
 *              isends, then waits for them all
 *   iallreduce, ibcast, iallgather, igather, iscatter  the data of allreduce, bcast,
 *              allgather, gather, scatter (every root); here MPI_Iallreduce,
 *              MPI_Ibcast, MPI_Iallgather, MPI_Igather, MPI_Iscatter then
 *              MPI_Wait: MPI never matches a non-blocking collective with a blocking
 *              one (MPI 3.1, section 5.12), so a Swift iallreduce must meet an
 *              MPI_Iallreduce, and one that made any other call would hang or fail
 * Cartesian grids of all n ranks (MPI_Cart_create, reorder false), in each of the
 * next two: 1-D periodic (p = 1), 1-D not (p = 0), 2-D n x 1 periodic in its first
 * dimension only (p = 2: the second dimension's two neighbours are null);
 * neighbours in MPI's order (for each dimension -1, then +1):
 *   neighbor-allgather   rank r sends 100r + 10p + i; a row from a null neighbour
 *              stays 0
 *   neighbor-alltoall    rank r's row j (to neighbour j): 1000r + 100j + 10p + i;
 *              with n = 2 periodic both neighbours in the first dimension are one
 *              rank and MPI may fill their two rows in either order, so either
 *              order is accepted
 *   neighbor-allgatherv, neighbor-alltoallv   as the two above with blocks of
 *              ncount(q) = 0 for q == 1, else q + 2 elements from rank q (every block
 *              of a rank the same length: with n = 2 periodic the two blocks from
 *              the one neighbour may come in either order); a null neighbour's
 *              receive count is 0
 *   persistent a halo exchange on the ring, 3 steps: rank r sends to r+1 with tag 7
 *              and to r-1 with tag 8: 10000step + 1000r + 100dir + i (dir 0 right,
 *              1 left); here MPI_Sendrecv for the first direction, MPI_Send then
 *              MPI_Recv for the second; the Swift side uses one PersistentPlan
 *              (exchange(), or start() then wait() at step 1)
 * Each rank prints "interop RANK c READY" after MPI_Init, "interop RANK c START
 * PRIMITIVE" before each primitive, and "interop RANK c PASS|FAIL PRIMITIVE
 * [what was wrong]" after it; it exits with status 1 if anything failed.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 3

static int rank, size;
static char problem[1024];

static void note(const char *format, long got, long expected, int where) {
    if (problem[0]) return; /* the first mismatch is enough */
    char what[160];
    snprintf(what, sizeof what, format, where);
    snprintf(problem, sizeof problem, "%s: got %ld, expected %ld", what, got, expected);
}

static void expect_ints(const int32_t *got, const int32_t *expected, int count, const char *what, int where) {
    for (int i = 0; i < count; i++)
        if (got[i] != expected[i]) { note(what, got[i], expected[i], where); return; }
}

static void expect_doubles(const double *got, const double *expected, int count, const char *what, int where) {
    for (int i = 0; i < count; i++)
        if (got[i] != expected[i]) { note(what, (long)got[i], (long)expected[i], where); return; }
}

static int vcount(int s, int t, int n) { return s == (t + 1) % n ? 0 : 1 + (s + 2 * t) % 4; }
static int acount(int s, int d, int n) { return s == (d + 1) % n ? 0 : 1 + s + 2 * d; }

/* The neighbour v-collectives' block length for rank q: ragged, zero on rank 1. */
static int ncount(int q, int n) { (void)n; return q == 1 ? 0 : q + 2; }

static int check(int code, const char *call) {
    if (code != MPI_SUCCESS) {
        char message[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(code, message, &length);
        if (!problem[0]) snprintf(problem, sizeof problem, "%s failed: %.400s", call, message);
        return 0;
    }
    return 1;
}

/* Waits for a non-blocking call's request when the call itself succeeded. */
static int wait_for(int code, MPI_Request *request, const char *call) {
    if (!check(code, call)) return 0;
    return check(MPI_Wait(request, MPI_STATUS_IGNORE), call);
}

/* Checks the `rows` rows (K elements each) of a neighbour collective: row 0 from
 * the -1 neighbour of the first dimension, row 1 from its +1 neighbour, ...; with
 * `either`, rows 0 and 1 may come in either order. */
static void expect_rows(const int32_t *got, const int32_t *expected, int rows, int either, const char *what,
                        int where) {
    if (either && memcmp(got, expected + K, K * sizeof(int32_t)) == 0 &&
        memcmp(got + K, expected, K * sizeof(int32_t)) == 0)
        expect_ints(got + 2 * K, expected + 2 * K, (rows - 2) * K, what, where);
    else
        expect_ints(got, expected, rows * K, what, where);
}

/* Checks `total` elements of a neighbour v-collective; with `either`, its first two blocks
 * (of `length` elements each) may come in either order. */
static void expect_blocks(const int32_t *got, const int32_t *expected, int length, int total, int either,
                          const char *what, int where) {
    if (either && memcmp(got, expected + length, length * sizeof(int32_t)) == 0 &&
        memcmp(got + length, expected, length * sizeof(int32_t)) == 0)
        expect_ints(got + 2 * length, expected + 2 * length, total - 2 * length, what, where);
    else
        expect_ints(got, expected, total, what, where);
}

static void run(const char *primitive, MPI_Comm comm) {
    int r = rank, n = size;
    /* Large enough for every primitive: alltoallv's blocks are the largest, below 3n + 1 each. */
    size_t room = (size_t)n * (3 * n + K + 2);
    int32_t *a = calloc(room, sizeof(int32_t)), *b = calloc(room, sizeof(int32_t));
    int32_t *e = calloc(room, sizeof(int32_t));
    int *counts = calloc((size_t)n, sizeof(int)), *displs = calloc((size_t)n, sizeof(int));
    int *rcounts = calloc((size_t)n, sizeof(int)), *rdispls = calloc((size_t)n, sizeof(int));
    double *xs = calloc((size_t)n * K, sizeof(double));
    MPI_Request request;
    double x[K], y[K], ex[K];
    if (!strcmp(primitive, "allgather")) {
        for (int i = 0; i < K; i++) a[i] = 1000 * r + i + 1;
        for (int s = 0; s < n; s++) for (int i = 0; i < K; i++) e[s * K + i] = 1000 * s + i + 1;
        if (check(MPI_Allgather(a, K, MPI_INT32_T, b, K, MPI_INT32_T, comm), "MPI_Allgather"))
            expect_ints(b, e, n * K, "data%.0d", 0);
    } else if (!strcmp(primitive, "allreduce")) {
        for (int i = 0; i < K; i++) { x[i] = (r + 1) * (i + 1) + 0.5; ex[i] = (i + 1) * n * (n + 1) / 2 + 0.5 * n; }
        if (check(MPI_Allreduce(x, y, K, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce"))
            expect_doubles(y, ex, K, "sum%.0d", 0);
        for (int i = 0; i < K; i++) { a[i] = 10 * r + i; e[i] = 10 * (n - 1) + i; }
        if (check(MPI_Allreduce(a, b, K, MPI_INT32_T, MPI_MAX, comm), "MPI_Allreduce"))
            expect_ints(b, e, K, "max%.0d", 0);
    } else if (!strcmp(primitive, "alltoall")) {
        for (int d = 0; d < n; d++) for (int i = 0; i < K; i++) {
            a[d * K + i] = 10000 * r + 100 * d + i;
            e[d * K + i] = 10000 * d + 100 * r + i;
        }
        if (check(MPI_Alltoall(a, K, MPI_INT32_T, b, K, MPI_INT32_T, comm), "MPI_Alltoall"))
            expect_ints(b, e, n * K, "data%.0d", 0);
    } else if (!strcmp(primitive, "barrier")) {
        for (int t = 0; t < 3; t++) check(MPI_Barrier(comm), "MPI_Barrier");
    } else if (!strcmp(primitive, "bcast")) {
        for (int root = 0; root < n; root++) {
            for (int i = 0; i < K; i++) { e[i] = 100 * root + i + 1; a[i] = r == root ? e[i] : -1; }
            if (check(MPI_Bcast(a, K, MPI_INT32_T, root, comm), "MPI_Bcast"))
                expect_ints(a, e, K, "root %d", root);
        }
    } else if (!strcmp(primitive, "gather")) {
        for (int root = 0; root < n; root++) {
            for (int i = 0; i < K; i++) a[i] = 100 * r + 10 * root + i;
            for (int s = 0; s < n; s++) for (int i = 0; i < K; i++) e[s * K + i] = 100 * s + 10 * root + i;
            if (check(MPI_Gather(a, K, MPI_INT32_T, b, K, MPI_INT32_T, root, comm), "MPI_Gather") && r == root)
                expect_ints(b, e, n * K, "root %d", root);
        }
    } else if (!strcmp(primitive, "reduce")) {
        for (int root = 0; root < n; root++) {
            for (int i = 0; i < K; i++) { x[i] = (r + 1) * (i + 1) + root; ex[i] = (i + 1) * n * (n + 1) / 2 + n * root; }
            if (check(MPI_Reduce(x, y, K, MPI_DOUBLE, MPI_SUM, root, comm), "MPI_Reduce") && r == root)
                expect_doubles(y, ex, K, "root %d", root);
        }
    } else if (!strcmp(primitive, "scan")) {
        for (int i = 0; i < K; i++) { x[i] = (r + 1) * (i + 1); ex[i] = (i + 1) * (r + 1) * (r + 2) / 2; }
        if (check(MPI_Scan(x, y, K, MPI_DOUBLE, MPI_SUM, comm), "MPI_Scan"))
            expect_doubles(y, ex, K, "prefix sum%.0d", 0);
    } else if (!strcmp(primitive, "scatter")) {
        for (int root = 0; root < n; root++) {
            for (int d = 0; d < n; d++) for (int i = 0; i < K; i++) a[d * K + i] = 1000 * root + 10 * d + i;
            for (int i = 0; i < K; i++) { e[i] = 1000 * root + 10 * r + i; b[i] = -1; }
            if (check(MPI_Scatter(r == root ? a : NULL, K, MPI_INT32_T, b, K, MPI_INT32_T, root, comm), "MPI_Scatter"))
                expect_ints(b, e, K, "root %d", root);
        }
    } else if (!strcmp(primitive, "sendrecv")) {
        for (int shift = 1; shift < n; shift++) {
            int dest = (r + shift) % n, source = (r - shift + n) % n, count = -1;
            MPI_Status status;
            for (int i = 0; i < K; i++) { a[i] = 500 * r + 50 * shift + i; e[i] = 500 * source + 50 * shift + i; b[i] = -1; }
            if (check(MPI_Sendrecv(a, K, MPI_INT32_T, dest, shift, b, K, MPI_INT32_T, source, shift, comm, &status),
                      "MPI_Sendrecv")) {
                expect_ints(b, e, K, "shift %d", shift);
                MPI_Get_count(&status, MPI_INT32_T, &count);
                if (status.MPI_SOURCE != source) note("shift %d status source", status.MPI_SOURCE, source, shift);
                if (status.MPI_TAG != shift) note("shift %d status tag", status.MPI_TAG, shift, shift);
                if (count != K) note("shift %d status count", count, K, shift);
            }
        }
    } else if (!strcmp(primitive, "send-recv")) {
        for (int source = 0; source < n; source++) for (int dest = 0; dest < n; dest++) {
            if (dest == source) continue;
            for (int i = 0; i < K; i++) { a[i] = 100 * source + 10 * dest + i; b[i] = -1; }
            if (r == source) {
                check(MPI_Send(a, K, MPI_INT32_T, dest, 10 + source, comm), "MPI_Send");
            } else if (r == dest) {
                MPI_Status status;
                int count = -1;
                if (check(MPI_Recv(b, K, MPI_INT32_T, source, 10 + source, comm, &status), "MPI_Recv")) {
                    expect_ints(b, a, K, "from %d", source);
                    MPI_Get_count(&status, MPI_INT32_T, &count);
                    if (status.MPI_SOURCE != source) note("from %d status source", status.MPI_SOURCE, source, source);
                    if (status.MPI_TAG != 10 + source) note("from %d status tag", status.MPI_TAG, 10 + source, source);
                    if (count != K) note("from %d status count", count, K, source);
                }
            }
        }
    } else if (!strcmp(primitive, "allgatherv")) {
        int total = 0;
        for (int s = 0; s < n; s++) { counts[s] = vcount(s, 0, n); displs[s] = total; total += counts[s]; }
        for (int i = 0; i < counts[r]; i++) a[i] = 1000 * r + i + 1;
        for (int s = 0; s < n; s++) for (int i = 0; i < counts[s]; i++) e[displs[s] + i] = 1000 * s + i + 1;
        for (int round = 0; round < 2; round++) { /* the Swift side: [T] form, then into: with displacements */
            for (int i = 0; i < total; i++) b[i] = -1;
            if (check(MPI_Allgatherv(a, counts[r], MPI_INT32_T, b, counts, displs, MPI_INT32_T, comm),
                      "MPI_Allgatherv"))
                expect_ints(b, e, total, "round %d", round);
        }
    } else if (!strcmp(primitive, "gatherv")) {
        for (int root = 0; root < n; root++) {
            int total = 0;
            for (int s = 0; s < n; s++) { counts[s] = vcount(s, root, n); displs[s] = total; total += counts[s]; }
            for (int i = 0; i < counts[r]; i++) a[i] = 100 * r + 10 * root + i;
            for (int s = 0; s < n; s++) for (int i = 0; i < counts[s]; i++) e[displs[s] + i] = 100 * s + 10 * root + i;
            for (int round = 0; round < 2; round++) { /* the Swift side: [T] form, then into: with displacements */
                for (int i = 0; i < total; i++) b[i] = -1;
                if (check(MPI_Gatherv(a, counts[r], MPI_INT32_T, r == root ? b : NULL, counts, displs, MPI_INT32_T,
                                      root, comm), "MPI_Gatherv") && r == root)
                    expect_ints(b, e, total, "root %d", root);
            }
        }
    } else if (!strcmp(primitive, "scatterv")) {
        for (int root = 0; root < n; root++) {
            int total = 0;
            for (int d = 0; d < n; d++) { counts[d] = vcount(d, root, n); displs[d] = total; total += counts[d]; }
            for (int d = 0; d < n; d++) for (int i = 0; i < counts[d]; i++) a[displs[d] + i] = 1000 * root + 10 * d + i;
            for (int i = 0; i < counts[r]; i++) { e[i] = 1000 * root + 10 * r + i; b[i] = -1; }
            if (check(MPI_Scatterv(r == root ? a : NULL, counts, displs, MPI_INT32_T, b, counts[r], MPI_INT32_T, root,
                                   comm), "MPI_Scatterv"))
                expect_ints(b, e, counts[r], "root %d", root);
        }
    } else if (!strcmp(primitive, "alltoallv")) {
        int sent = 0, received = 0;
        for (int d = 0; d < n; d++) {
            counts[d] = acount(r, d, n); displs[d] = sent; sent += counts[d];
            rcounts[d] = acount(d, r, n); rdispls[d] = received; received += rcounts[d];
            for (int i = 0; i < counts[d]; i++) a[displs[d] + i] = 10000 * r + 100 * d + i;
            for (int i = 0; i < rcounts[d]; i++) e[rdispls[d] + i] = 10000 * d + 100 * r + i;
        }
        for (int round = 0; round < 2; round++) { /* the Swift side: [T] form, then into: with displacements */
            for (int i = 0; i < received; i++) b[i] = -1;
            if (check(MPI_Alltoallv(a, counts, displs, MPI_INT32_T, b, rcounts, rdispls, MPI_INT32_T, comm),
                      "MPI_Alltoallv"))
                expect_ints(b, e, received, "round %d", round);
        }
    } else if (!strcmp(primitive, "reduce-scatter-block")) {
        for (int d = 0; d < n; d++) for (int i = 0; i < K; i++) xs[d * K + i] = (r + 1) * (d + 1) + i;
        for (int i = 0; i < K; i++) ex[i] = (r + 1) * n * (n + 1) / 2 + n * i;
        if (check(MPI_Reduce_scatter_block(xs, y, K, MPI_DOUBLE, MPI_SUM, comm), "MPI_Reduce_scatter_block"))
            expect_doubles(y, ex, K, "sum%.0d", 0);
        for (int d = 0; d < n; d++) for (int i = 0; i < K; i++) a[d * K + i] = 10 * r + d + i;
        for (int i = 0; i < K; i++) e[i] = 10 * (n - 1) + r + i;
        if (check(MPI_Reduce_scatter_block(a, b, K, MPI_INT32_T, MPI_MAX, comm), "MPI_Reduce_scatter_block"))
            expect_ints(b, e, K, "max%.0d", 0);
    } else if (!strcmp(primitive, "exscan")) {
        for (int i = 0; i < K; i++) { x[i] = (r + 1) * (i + 1); ex[i] = (i + 1) * r * (r + 1) / 2; }
        if (check(MPI_Exscan(x, y, K, MPI_DOUBLE, MPI_SUM, comm), "MPI_Exscan") && r > 0)
            expect_doubles(y, ex, K, "prefix sum%.0d", 0);
        for (int i = 0; i < K; i++) { a[i] = r + i; e[i] = r * (r - 1) / 2 + r * i; }
        if (check(MPI_Exscan(a, b, K, MPI_INT32_T, MPI_SUM, comm), "MPI_Exscan") && r > 0)
            expect_ints(b, e, K, "int32 prefix sum%.0d", 0);
    } else if (!strcmp(primitive, "reduce-scatter")) {
        int total = 0;
        for (int d = 0; d < n; d++) { counts[d] = vcount(d, 0, n); displs[d] = total; total += counts[d]; }
        double *sums = calloc((size_t)total + 1, sizeof(double)), *want = calloc((size_t)counts[r] + 1, sizeof(double));
        double *got = calloc((size_t)counts[r] + 1, sizeof(double));
        for (int d = 0; d < n; d++) for (int i = 0; i < counts[d]; i++) sums[displs[d] + i] = (r + 1) * (d + 1) + i;
        for (int i = 0; i < counts[r]; i++) { want[i] = (r + 1) * n * (n + 1) / 2 + n * i; got[i] = -1; }
        if (check(MPI_Reduce_scatter(sums, got, counts, MPI_DOUBLE, MPI_SUM, comm), "MPI_Reduce_scatter"))
            expect_doubles(got, want, counts[r], "sum%.0d", 0);
        free(sums); free(want); free(got);
    } else if (!strcmp(primitive, "isend-irecv")) {
        for (int round = 0; round < 2; round++) for (int source = 0; source < n; source++)
            for (int dest = 0; dest < n; dest++) {
                int tag = 20 + 10 * round + source;
                char what[64];
                if (dest == source) continue;
                for (int i = 0; i < K; i++) { a[i] = 200 * source + 10 * dest + i; b[i] = -1; }
                if (r == source) {
                    check(MPI_Send(a, K, MPI_INT32_T, dest, tag, comm), "MPI_Send");
                } else if (r == dest) {
                    MPI_Status status;
                    int count = -1;
                    if (check(MPI_Recv(b, K, MPI_INT32_T, source, tag, comm, &status), "MPI_Recv")) {
                        snprintf(what, sizeof what, "round %d from %%d", round);
                        expect_ints(b, a, K, what, source);
                        MPI_Get_count(&status, MPI_INT32_T, &count);
                        snprintf(what, sizeof what, "round %d from %%d status source", round);
                        if (status.MPI_SOURCE != source) note(what, status.MPI_SOURCE, source, source);
                        snprintf(what, sizeof what, "round %d from %%d status tag", round);
                        if (status.MPI_TAG != tag) note(what, status.MPI_TAG, tag, source);
                        snprintf(what, sizeof what, "round %d from %%d status count", round);
                        if (count != K) note(what, count, K, source);
                    }
                }
            }
    } else if (!strcmp(primitive, "iallreduce")) {
        for (int i = 0; i < K; i++) { x[i] = (r + 1) * (i + 1) + 0.5; ex[i] = (i + 1) * n * (n + 1) / 2 + 0.5 * n; }
        if (wait_for(MPI_Iallreduce(x, y, K, MPI_DOUBLE, MPI_SUM, comm, &request), &request, "MPI_Iallreduce"))
            expect_doubles(y, ex, K, "sum%.0d", 0);
        for (int i = 0; i < K; i++) { a[i] = 10 * r + i; e[i] = 10 * (n - 1) + i; }
        if (wait_for(MPI_Iallreduce(a, b, K, MPI_INT32_T, MPI_MAX, comm, &request), &request, "MPI_Iallreduce"))
            expect_ints(b, e, K, "max%.0d", 0);
    } else if (!strcmp(primitive, "ibcast")) {
        for (int root = 0; root < n; root++) {
            for (int i = 0; i < K; i++) { e[i] = 100 * root + i + 1; a[i] = r == root ? e[i] : -1; }
            if (wait_for(MPI_Ibcast(a, K, MPI_INT32_T, root, comm, &request), &request, "MPI_Ibcast"))
                expect_ints(a, e, K, "root %d", root);
        }
    } else if (!strcmp(primitive, "iallgather")) {
        for (int i = 0; i < K; i++) a[i] = 1000 * r + i + 1;
        for (int s = 0; s < n; s++) for (int i = 0; i < K; i++) e[s * K + i] = 1000 * s + i + 1;
        if (wait_for(MPI_Iallgather(a, K, MPI_INT32_T, b, K, MPI_INT32_T, comm, &request), &request,
                     "MPI_Iallgather"))
            expect_ints(b, e, n * K, "data%.0d", 0);
    } else if (!strcmp(primitive, "igather")) {
        for (int root = 0; root < n; root++) {
            for (int i = 0; i < K; i++) a[i] = 100 * r + 10 * root + i;
            for (int s = 0; s < n; s++) for (int i = 0; i < K; i++) e[s * K + i] = 100 * s + 10 * root + i;
            if (wait_for(MPI_Igather(a, K, MPI_INT32_T, b, K, MPI_INT32_T, root, comm, &request), &request,
                         "MPI_Igather") && r == root)
                expect_ints(b, e, n * K, "root %d", root);
        }
    } else if (!strcmp(primitive, "iscatter")) {
        for (int root = 0; root < n; root++) {
            for (int d = 0; d < n; d++) for (int i = 0; i < K; i++) a[d * K + i] = 1000 * root + 10 * d + i;
            for (int i = 0; i < K; i++) { e[i] = 1000 * root + 10 * r + i; b[i] = -1; }
            if (wait_for(MPI_Iscatter(r == root ? a : NULL, K, MPI_INT32_T, b, K, MPI_INT32_T, root, comm, &request),
                         &request, "MPI_Iscatter"))
                expect_ints(b, e, K, "root %d", root);
        }
    } else if (!strcmp(primitive, "neighbor-allgather") || !strcmp(primitive, "neighbor-alltoall")) {
        int allgather = !strcmp(primitive, "neighbor-allgather");
        /* Three grids: 1-D periodic (p = 1), 1-D not (p = 0), 2-D n x 1 periodic in the first
         * dimension only (p = 2: its second dimension's two neighbours are null). */
        for (int v = 0; v < 3; v++) {
            int p = v == 0 ? 1 : v == 1 ? 0 : 2, ndims = v == 2 ? 2 : 1, rows = 2 * ndims, wraps = v != 1;
            int dims[2] = {n, 1}, periods[2] = {wraps, 0};
            int left = wraps || r > 0 ? (r - 1 + n) % n : -1, right = wraps || r < n - 1 ? (r + 1) % n : -1;
            MPI_Comm cart = MPI_COMM_NULL;
            if (!check(MPI_Cart_create(comm, ndims, dims, periods, 0, &cart), "MPI_Cart_create")) break;
            MPI_Comm_set_errhandler(cart, MPI_ERRORS_RETURN);
            for (int i = 0; i < rows * K; i++) { b[i] = 0; e[i] = 0; }
            if (allgather) {
                for (int i = 0; i < K; i++) {
                    a[i] = 100 * r + 10 * p + i;
                    if (left >= 0) e[i] = 100 * left + 10 * p + i;
                    if (right >= 0) e[K + i] = 100 * right + 10 * p + i;
                }
                if (check(MPI_Neighbor_allgather(a, K, MPI_INT32_T, b, K, MPI_INT32_T, cart), "MPI_Neighbor_allgather"))
                    expect_rows(b, e, rows, wraps && n == 2, "grid %d", p);
            } else {
                for (int j = 0; j < rows; j++) for (int i = 0; i < K; i++) a[j * K + i] = 1000 * r + 100 * j + 10 * p + i;
                for (int i = 0; i < K; i++) {
                    if (left >= 0) e[i] = 1000 * left + 100 + 10 * p + i;   /* the left neighbour's row to its right */
                    if (right >= 0) e[K + i] = 1000 * right + 10 * p + i;   /* the right neighbour's row to its left */
                }
                if (check(MPI_Neighbor_alltoall(a, K, MPI_INT32_T, b, K, MPI_INT32_T, cart), "MPI_Neighbor_alltoall"))
                    expect_rows(b, e, rows, wraps && n == 2, "grid %d", p);
            }
            MPI_Comm_free(&cart);
        }
    } else if (!strcmp(primitive, "neighbor-allgatherv") || !strcmp(primitive, "neighbor-alltoallv")) {
        int allgather = !strcmp(primitive, "neighbor-allgatherv");
        for (int v = 0; v < 3; v++) { /* the grids of neighbor-allgather */
            int p = v == 0 ? 1 : v == 1 ? 0 : 2, ndims = v == 2 ? 2 : 1, rows = 2 * ndims, wraps = v != 1;
            int dims[2] = {n, 1}, periods[2] = {wraps, 0};
            int left = wraps || r > 0 ? (r - 1 + n) % n : -1, right = wraps || r < n - 1 ? (r + 1) % n : -1;
            int from[2] = {left, right}, total = 0, mine = ncount(r, n);
            MPI_Comm cart = MPI_COMM_NULL;
            if (!check(MPI_Cart_create(comm, ndims, dims, periods, 0, &cart), "MPI_Cart_create")) break;
            MPI_Comm_set_errhandler(cart, MPI_ERRORS_RETURN);
            for (int j = 0; j < rows; j++) {
                rcounts[j] = j < 2 && from[j] >= 0 ? ncount(from[j], n) : 0;
                rdispls[j] = total; total += rcounts[j];
                counts[j] = mine; displs[j] = allgather ? 0 : j * mine;
            }
            for (int i = 0; i < total + 1; i++) { b[i] = 0; e[i] = 0; }
            for (int j = 0; j < 2; j++) for (int i = 0; i < rcounts[j]; i++)
                /* neighbour -1 sends its block 1 (to its +1), neighbour +1 its block 0 */
                e[rdispls[j] + i] = allgather ? 100 * from[j] + 10 * p + i : 1000 * from[j] + 100 * (1 - j) + 10 * p + i;
            if (allgather) {
                for (int i = 0; i < mine; i++) a[i] = 100 * r + 10 * p + i;
                if (check(MPI_Neighbor_allgatherv(a, mine, MPI_INT32_T, b, rcounts, rdispls, MPI_INT32_T, cart),
                          "MPI_Neighbor_allgatherv"))
                    expect_blocks(b, e, rcounts[0], total, wraps && n == 2, "grid %d", p);
            } else {
                for (int j = 0; j < rows; j++) for (int i = 0; i < mine; i++)
                    a[j * mine + i] = 1000 * r + 100 * j + 10 * p + i;
                if (check(MPI_Neighbor_alltoallv(a, counts, displs, MPI_INT32_T, b, rcounts, rdispls, MPI_INT32_T,
                                                 cart), "MPI_Neighbor_alltoallv"))
                    expect_blocks(b, e, rcounts[0], total, wraps && n == 2, "grid %d", p);
            }
            MPI_Comm_free(&cart);
        }
    } else if (!strcmp(primitive, "persistent")) {
        int right = (r + 1) % n, left = (r - 1 + n) % n;
        for (int step = 0; step < 3; step++) {
            MPI_Status status;
            for (int i = 0; i < K; i++) {
                a[i] = 10000 * step + 1000 * r + i;              /* to the right, tag 7 */
                a[K + i] = 10000 * step + 1000 * r + 100 + i;    /* to the left, tag 8 */
                e[i] = 10000 * step + 1000 * left + i;           /* from the left, tag 7 */
                e[K + i] = 10000 * step + 1000 * right + 100 + i; /* from the right, tag 8 */
                b[i] = b[K + i] = -1;
            }
            if (check(MPI_Sendrecv(a, K, MPI_INT32_T, right, 7, b, K, MPI_INT32_T, left, 7, comm, &status),
                      "MPI_Sendrecv"))
                expect_ints(b, e, K, "step %d from the left", step);
            if (check(MPI_Send(a + K, K, MPI_INT32_T, left, 8, comm), "MPI_Send") &&
                check(MPI_Recv(b + K, K, MPI_INT32_T, right, 8, comm, &status), "MPI_Recv"))
                expect_ints(b + K, e + K, K, "step %d from the right", step);
        }
    } else {
        snprintf(problem, sizeof problem, "unknown primitive");
    }
    free(a); free(b); free(e); free(counts); free(displs); free(rcounts); free(rdispls); free(xs);
}

static const char *all[] = {
    "allgather", "allreduce", "alltoall", "barrier", "bcast", "gather",
    "reduce", "scan", "scatter", "sendrecv", "send-recv",
    "allgatherv", "gatherv", "scatterv", "alltoallv", "reduce-scatter-block", "exscan", "reduce-scatter",
    "isend-irecv", "iallreduce", "ibcast", "iallgather", "igather", "iscatter", "neighbor-allgather",
    "neighbor-alltoall", "neighbor-allgatherv", "neighbor-alltoallv", "persistent",
};

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "world") && strcmp(argv[1], "default"))) {
        fprintf(stderr, "usage: interop-c world|default PRIMITIVE... (or all)\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    printf("interop %d c READY\n", rank);
    fflush(stdout);
    MPI_Comm comm = MPI_COMM_WORLD;
    int failed = 0;
    if (!strcmp(argv[1], "default")) {
        /* Where the Swift rank first uses comm: nil. */
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Comm_dup(MPI_COMM_WORLD, &comm);
        MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    }
    for (int a = 2; a < argc; a++) {
        int from = 0, to = 1;
        const char **names = (const char **)&argv[a];
        if (!strcmp(argv[a], "all")) { names = all; to = (int)(sizeof all / sizeof all[0]); }
        for (int p = from; p < to; p++) {
            problem[0] = 0;
            printf("interop %d c START %s\n", rank, names[p]);
            fflush(stdout);
            run(names[p], comm);
            if (problem[0]) failed = 1;
            printf("interop %d c %s %s%s%s\n", rank, problem[0] ? "FAIL" : "PASS", names[p],
                   problem[0] ? " " : "", problem);
            fflush(stdout);
        }
    }
    if (comm != MPI_COMM_WORLD) MPI_Comm_free(&comm);
    MPI_Finalize();
    return failed;
}
