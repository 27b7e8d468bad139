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
 * scatter sendrecv send-recv, or `all`. Collectives with a root run once per root.
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

static void run(const char *primitive, MPI_Comm comm) {
    int r = rank, n = size;
    int32_t *a = calloc((size_t)n * K, sizeof(int32_t)), *b = calloc((size_t)n * K, sizeof(int32_t));
    int32_t *e = calloc((size_t)n * K, sizeof(int32_t));
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
    } else {
        snprintf(problem, sizeof problem, "unknown primitive");
    }
    free(a); free(b); free(e);
}

static const char *all[] = {
    "allgather", "allreduce", "alltoall", "barrier", "bcast", "gather",
    "reduce", "scan", "scatter", "sendrecv", "send-recv",
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
