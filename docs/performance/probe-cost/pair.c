/*
 * pair.c: what the probed receive costs in C, without Swift.
 *
 * Two ranks exchange a message of 8 B, 1 KiB and 64 KiB (Float64) three ways,
 * interleaved in every sample:
 *   irecv              MPI_Irecv, MPI_Isend, MPI_Waitall (the benchmark's C reference for iexchange);
 *   probed             MPI_Isend, MPI_Improbe polled (testing the send between probes),
 *                      MPI_Imrecv, MPI_Waitall;
 *   probed-sequential  MPI_Isend, MPI_Improbe polled, MPI_Imrecv, MPI_Wait on the receive, then on
 *                      the send: the calls swift-mpi's irecv/isend and two waits make, in that order.
 * Rank 0 prints the median of 21 samples (each the mean of N exchanges after a barrier; 2 warm-up
 * samples) and each probed form's difference and ratio against irecv.
 *
 * Build and run: see run.sh in this folder.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SAMPLES = 21, WARMUP = 2, MODES = 3 };

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) fprintf(stderr, "pair: run on 2 ranks\n");
        MPI_Finalize();
        return 1;
    }
    const int peer = 1 - rank;
    const size_t sizes[] = {8, 1024, 65536};
    for (int si = 0; si < 3; si++) {
        const size_t bytes = sizes[si];
        const int n = (int)(bytes / sizeof(double));
        const int iterations = bytes < 8192 ? 2000 : 400;
        double *s = malloc(bytes), *r = malloc(bytes);
        memset(s, 1, bytes);
        memset(r, 0, bytes);
        double t[MODES][SAMPLES];
        for (int k = 0; k < SAMPLES + WARMUP; k++) {
            for (int mode = 0; mode < MODES; mode++) {
                MPI_Barrier(MPI_COMM_WORLD);
                const double t0 = MPI_Wtime();
                for (int i = 0; i < iterations; i++) {
                    MPI_Request rq[2];
                    MPI_Status st[2];
                    if (mode == 0) {
                        MPI_Irecv(r, n, MPI_DOUBLE, peer, 0, MPI_COMM_WORLD, &rq[0]);
                        MPI_Isend(s, n, MPI_DOUBLE, peer, 0, MPI_COMM_WORLD, &rq[1]);
                        MPI_Waitall(2, rq, st);
                        continue;
                    }
                    MPI_Isend(s, n, MPI_DOUBLE, peer, 0, MPI_COMM_WORLD, &rq[1]);
                    int found = 0;
                    MPI_Message message;
                    while (!found) {
                        MPI_Improbe(peer, 0, MPI_COMM_WORLD, &found, &message, &st[0]);
                        if (!found && mode == 1 && rq[1] != MPI_REQUEST_NULL) {
                            int done;
                            MPI_Test(&rq[1], &done, &st[1]);
                        }
                    }
                    MPI_Imrecv(r, n, MPI_DOUBLE, &message, &rq[0]);
                    if (mode == 1) {
                        MPI_Waitall(2, rq, st);
                    } else {
                        MPI_Wait(&rq[0], &st[0]);
                        MPI_Wait(&rq[1], &st[1]);
                    }
                }
                const double microseconds = (MPI_Wtime() - t0) / iterations * 1e6;
                if (k >= WARMUP) t[mode][k - WARMUP] = microseconds;
            }
        }
        if (rank == 0) {
            for (int mode = 0; mode < MODES; mode++) qsort(t[mode], SAMPLES, sizeof(double), compare);
            const double base = t[0][SAMPLES / 2];
            printf("%7zu B  irecv %.3f us", bytes, base);
            const char *names[] = {"", "probed", "probed-sequential"};
            for (int mode = 1; mode < MODES; mode++) {
                const double m = t[mode][SAMPLES / 2];
                printf("  %s %.3f us diff %+.3f ratio %.3f", names[mode], m, m - base, m / base);
            }
            printf("\n");
            fflush(stdout);
        }
        free(s);
        free(r);
    }
    MPI_Finalize();
    return 0;
}
