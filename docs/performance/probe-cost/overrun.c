/*
 * overrun.c: why swift-mpi probes every receive.
 *
 * Rank 0 sends a message twice the size of the buffer that rank 1 receives it
 * into (8 B to 1 MiB), with MPI_ERRORS_RETURN; rank 1 fills the memory past its
 * buffer with a pattern first and counts the bytes that the receive changed
 * there. MPI requires MPI_ERR_TRUNCATE and nothing written past the buffer.
 *
 *   mpicc.openmpi -O2 -o overrun overrun.c && mpirun.openmpi -n 2 ./overrun
 *   mpicc.mpich -O2 -o overrun overrun.c && mpirun.mpich -n 2 ./overrun
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int rank;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    const size_t sizes[] = {8, 1024, 4096, 65536, 1 << 20};
    for (int i = 0; i < 5; i++) {
        const size_t buffer = sizes[i], message = 2 * sizes[i];
        if (rank == 0) {
            unsigned char *s = malloc(message);
            memset(s, 0xAB, message);
            MPI_Send(s, (int)message, MPI_BYTE, 1, i, MPI_COMM_WORLD);
            free(s);
        } else if (rank == 1) {
            unsigned char *r = malloc(message + 64);
            memset(r, 0x11, message + 64);
            MPI_Status status;
            const int rc = MPI_Recv(r, (int)buffer, MPI_BYTE, 0, i, MPI_COMM_WORLD, &status);
            size_t overwritten = 0;
            for (size_t k = buffer; k < message + 64; k++) overwritten += r[k] != 0x11;
            int class;
            MPI_Error_class(rc, &class);
            printf("%7zu B message into a %7zu B buffer: error class %d (MPI_ERR_TRUNCATE is %d), "
                   "%zu bytes written past the buffer\n", message, buffer, class, MPI_ERR_TRUNCATE, overwritten);
            fflush(stdout);
            free(r);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    MPI_Finalize();
    return 0;
}
