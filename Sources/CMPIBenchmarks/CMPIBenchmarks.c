// The C reference benchmark of swift-mpi. See include/CMPIBenchmarks.h.
#define _GNU_SOURCE
#include "CMPIBenchmarks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CMPIB_HUGE_PAGE ((size_t)2 << 20)

// A block of a case: its address, and how to free it.
typedef struct cmpib_block {
    void *p;
    size_t mapped; // > 0: an mmap of this length; 0: from malloc or posix_memalign
} cmpib_block;

struct cmpib_case {
    cmpib_op op;
    cmpib_alloc alloc;
    MPI_Comm comm;
    MPI_Comm topo;    // the Cartesian grid of CMPIB_NEIGHBOR_ALLTOALL, else MPI_COMM_NULL
    int rank;
    int size;
    int count;        // Float64 elements per block
    int partner;      // point-to-point partner, or -1 when this rank idles
    void *sendbuf;
    size_t sendbytes;
    void *recvbuf;
    size_t recvbytes;
    cmpib_block sendblock;
    cmpib_block recvblock;
    int *counts;      // allgatherv: every rank's count
    int *displs;      // allgatherv: packed displacements
};

// From one page up, "malloc" blocks are taken from mmap directly (see cmpib_alloc_bytes).
#define CMPIB_MMAP_FROM ((size_t)4096)

static cmpib_block cmpib_alloc_bytes(size_t bytes, cmpib_alloc alloc) {
    cmpib_block b = {NULL, 0};
    if (bytes == 0) bytes = sizeof(double);
    if (alloc == CMPIB_ALLOC_MALLOC) {
        if (bytes < CMPIB_MMAP_FROM) {
            b.p = malloc(bytes);
            return b;
        }
        // Fresh anonymous 4 KiB pages: what malloc gives a C program whose
        // heap nobody has advised for huge pages (THP mode `madvise`). Taken
        // from mmap directly because in this process the heap may have been
        // advised: the Swift library advises its large result arrays, glibc
        // reuses that heap memory for later blocks (its dynamic mmap threshold
        // moves even large blocks onto the heap), and a heap-served reference
        // then gets huge pages in some runs and not in others.
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return b;
        b.p = p;
        b.mapped = bytes;
        return b;
    }
    size_t rounded = (bytes + CMPIB_HUGE_PAGE - 1) & ~(CMPIB_HUGE_PAGE - 1);
    void *p = NULL;
    if (posix_memalign(&p, CMPIB_HUGE_PAGE, rounded) != 0) return b;
#ifdef MADV_HUGEPAGE
    // Advisory: where THP is off, the buffer stays an ordinary aligned one.
    (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    b.p = p;
    return b;
}

static void cmpib_free_block(cmpib_block b) {
    if (!b.p) return;
    if (b.mapped) munmap(b.p, b.mapped);
    else free(b.p);
}

static void cmpib_fill(double *p, size_t bytes, int rank) {
    size_t n = bytes / sizeof(double);
    for (size_t i = 0; i < n; i++) p[i] = (double)rank + 1.0 + (double)(i & 7) * 0.125;
}

cmpib_case *cmpib_case_create(cmpib_op op, size_t bytes, cmpib_alloc alloc, MPI_Comm comm) {
    if (bytes % sizeof(double) != 0 || bytes / sizeof(double) > (size_t)INT32_MAX) return NULL;
    if ((unsigned)op > (unsigned)CMPIB_IEXCHANGE) return NULL;
    cmpib_case *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->op = op;
    c->alloc = alloc;
    c->comm = comm;
    c->topo = MPI_COMM_NULL;
    if (MPI_Comm_rank(comm, &c->rank) != MPI_SUCCESS || MPI_Comm_size(comm, &c->size) != MPI_SUCCESS) {
        free(c);
        return NULL;
    }
    c->count = (int)(bytes / sizeof(double));
    c->partner = cmpib_case_partner(op, c->rank, c->size);
    size_t block = bytes;
    size_t all = block * (size_t)c->size;
    switch (op) {
    case CMPIB_ALLGATHER: c->sendbytes = block; c->recvbytes = all; break;
    case CMPIB_ALLREDUCE: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_ALLTOALL: c->sendbytes = all; c->recvbytes = all; break;
    case CMPIB_BARRIER: c->sendbytes = 0; c->recvbytes = 0; break;
    case CMPIB_BCAST: c->sendbytes = block; c->recvbytes = 0; break;
    case CMPIB_GATHER: c->sendbytes = block; c->recvbytes = all; break;
    case CMPIB_REDUCE: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_SCAN: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_SCATTER: c->sendbytes = all; c->recvbytes = block; break;
    case CMPIB_PINGPONG: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_SENDRECV: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_IALLREDUCE: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_IEXCHANGE: c->sendbytes = block; c->recvbytes = block; break;
    case CMPIB_NEIGHBOR_ALLTOALL: {
        int dims[1] = {c->size}, periods[1] = {1};
        if (MPI_Cart_create(comm, 1, dims, periods, 0, &c->topo) != MPI_SUCCESS) {
            free(c);
            return NULL;
        }
        c->sendbytes = 2 * block;
        c->recvbytes = 2 * block;
        break;
    }
    case CMPIB_ALLGATHERV: c->sendbytes = block; c->recvbytes = all; break;
    case CMPIB_REDUCE_SCATTER_BLOCK: c->sendbytes = all; c->recvbytes = block; break;
    case CMPIB_EXSCAN: c->sendbytes = block; c->recvbytes = block; break;
    }
    if (op == CMPIB_ALLGATHERV) {
        c->counts = calloc((size_t)c->size, sizeof(int));
        c->displs = calloc((size_t)c->size, sizeof(int));
        if (!c->counts || !c->displs) {
            cmpib_case_destroy(c);
            return NULL;
        }
        for (int r = 0; r < c->size; r++) {
            c->counts[r] = c->count;
            c->displs[r] = r * c->count;
        }
    }
    c->sendblock = cmpib_alloc_bytes(c->sendbytes, alloc);
    c->recvblock = cmpib_alloc_bytes(c->recvbytes, alloc);
    c->sendbuf = c->sendblock.p;
    c->recvbuf = c->recvblock.p;
    if (!c->sendbuf || !c->recvbuf) {
        cmpib_case_destroy(c);
        return NULL;
    }
    // Touch every page now, so that no page fault lands in a timed region.
    cmpib_fill(c->sendbuf, c->sendbytes, c->rank);
    memset(c->recvbuf, 0, c->recvbytes);
    return c;
}

void cmpib_case_destroy(cmpib_case *c) {
    if (!c) return;
    cmpib_free_block(c->sendblock);
    cmpib_free_block(c->recvblock);
    free(c->counts);
    free(c->displs);
    if (c->topo != MPI_COMM_NULL) MPI_Comm_free(&c->topo);
    free(c);
}

// The timed loops: one switch outside, a tight loop of one MPI call inside.
static int cmpib_loop(cmpib_case *c, int iterations) {
    const MPI_Comm comm = c->comm;
    const int n = c->count;
    void *const s = c->sendbuf;
    void *const r = c->recvbuf;
    int rc = MPI_SUCCESS;
    switch (c->op) {
    case CMPIB_ALLGATHER:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Allgather(s, n, MPI_DOUBLE, r, n, MPI_DOUBLE, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_ALLREDUCE:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Allreduce(s, r, n, MPI_DOUBLE, MPI_SUM, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_ALLTOALL:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Alltoall(s, n, MPI_DOUBLE, r, n, MPI_DOUBLE, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_BARRIER:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Barrier(comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_BCAST:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Bcast(s, n, MPI_DOUBLE, 0, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_GATHER:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Gather(s, n, MPI_DOUBLE, r, n, MPI_DOUBLE, 0, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_REDUCE:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Reduce(s, r, n, MPI_DOUBLE, MPI_SUM, 0, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_SCAN:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Scan(s, r, n, MPI_DOUBLE, MPI_SUM, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_SCATTER:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Scatter(s, n, MPI_DOUBLE, r, n, MPI_DOUBLE, 0, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_ALLGATHERV: {
        const int *counts = c->counts, *displs = c->displs;
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Allgatherv(s, n, MPI_DOUBLE, r, counts, displs, MPI_DOUBLE, comm)) != MPI_SUCCESS) return rc;
        break;
    }
    case CMPIB_REDUCE_SCATTER_BLOCK:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Reduce_scatter_block(s, r, n, MPI_DOUBLE, MPI_SUM, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_EXSCAN:
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Exscan(s, r, n, MPI_DOUBLE, MPI_SUM, comm)) != MPI_SUCCESS) return rc;
        break;
    case CMPIB_PINGPONG: {
        const int peer = c->partner;
        if (peer < 0) break;
        if ((c->rank & 1) == 0) {
            for (int i = 0; i < iterations; i++) {
                if ((rc = MPI_Send(s, n, MPI_DOUBLE, peer, 0, comm)) != MPI_SUCCESS) return rc;
                if ((rc = MPI_Recv(r, n, MPI_DOUBLE, peer, 0, comm, MPI_STATUS_IGNORE)) != MPI_SUCCESS) return rc;
            }
        } else {
            for (int i = 0; i < iterations; i++) {
                if ((rc = MPI_Recv(r, n, MPI_DOUBLE, peer, 0, comm, MPI_STATUS_IGNORE)) != MPI_SUCCESS) return rc;
                if ((rc = MPI_Send(s, n, MPI_DOUBLE, peer, 0, comm)) != MPI_SUCCESS) return rc;
            }
        }
        break;
    }
    case CMPIB_SENDRECV: {
        const int peer = c->partner;
        if (peer < 0) break;
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Sendrecv(s, n, MPI_DOUBLE, peer, 0, r, n, MPI_DOUBLE, peer, 0, comm,
                                   MPI_STATUS_IGNORE)) != MPI_SUCCESS)
                return rc;
        break;
    }
    case CMPIB_NEIGHBOR_ALLTOALL: {
        const MPI_Comm topo = c->topo;
        for (int i = 0; i < iterations; i++)
            if ((rc = MPI_Neighbor_alltoall(s, n, MPI_DOUBLE, r, n, MPI_DOUBLE, topo)) != MPI_SUCCESS) return rc;
        break;
    }
    case CMPIB_IALLREDUCE: {
        MPI_Request request;
        for (int i = 0; i < iterations; i++) {
            if ((rc = MPI_Iallreduce(s, r, n, MPI_DOUBLE, MPI_SUM, comm, &request)) != MPI_SUCCESS) return rc;
            if ((rc = MPI_Wait(&request, MPI_STATUS_IGNORE)) != MPI_SUCCESS) return rc;
        }
        break;
    }
    case CMPIB_IEXCHANGE: {
        const int peer = c->partner;
        if (peer < 0) break;
        MPI_Request requests[2];
        for (int i = 0; i < iterations; i++) {
            if ((rc = MPI_Irecv(r, n, MPI_DOUBLE, peer, 0, comm, &requests[0])) != MPI_SUCCESS) return rc;
            if ((rc = MPI_Isend(s, n, MPI_DOUBLE, peer, 0, comm, &requests[1])) != MPI_SUCCESS) return rc;
            if ((rc = MPI_Waitall(2, requests, MPI_STATUSES_IGNORE)) != MPI_SUCCESS) return rc;
        }
        break;
    }
    }
    return rc;
}

int cmpib_case_sample(cmpib_case *c, int iterations, double *seconds_per_call) {
    if (iterations < 1) iterations = 1;
    int rc = MPI_Barrier(c->comm);
    if (rc != MPI_SUCCESS) return rc;
    const double t0 = MPI_Wtime();
    rc = cmpib_loop(c, iterations);
    const double t1 = MPI_Wtime();
    const double calls = c->op == CMPIB_PINGPONG ? 2.0 * iterations : (double)iterations;
    *seconds_per_call = (t1 - t0) / calls;
    return rc;
}

int cmpib_profile_loop(cmpib_case *c, int iterations) { return cmpib_loop(c, iterations); }

int cmpib_case_partner(cmpib_op op, int rank, int size) {
    if ((rank ^ 1) < size) return rank ^ 1;
    if (size == 1 && (op == CMPIB_SENDRECV || op == CMPIB_IEXCHANGE)) return rank;
    return -1;
}

double cmpib_wtime(void) { return MPI_Wtime(); }

int cmpib_barrier(MPI_Comm comm) { return MPI_Barrier(comm); }

int cmpib_max_over_ranks(double *values, int count, MPI_Comm comm) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_MAX, comm);
}

int cmpib_query_thread_level(void) {
    int provided;
    if (MPI_Query_thread(&provided) != MPI_SUCCESS) return -1;
    if (provided == MPI_THREAD_SINGLE) return 0;
    if (provided == MPI_THREAD_FUNNELED) return 1;
    if (provided == MPI_THREAD_SERIALIZED) return 2;
    if (provided == MPI_THREAD_MULTIPLE) return 3;
    return -1;
}

long cmpib_hugepage_probe_kb(size_t bytes) {
    cmpib_block b = cmpib_alloc_bytes(bytes, CMPIB_ALLOC_HUGEPAGE);
    char *p = b.p;
    if (!p) return -1;
    memset(p, 1, bytes);
    const uintptr_t addr = (uintptr_t)p;
    long result = -1;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f) {
        char line[512];
        int inside = 0;
        while (fgets(line, sizeof line, f)) {
            unsigned long lo, hi;
            if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') == line + strspn(line, "0123456789abcdef")) {
                inside = addr >= lo && addr < hi;
                continue;
            }
            long kb;
            if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
                result = kb;
                break;
            }
        }
        fclose(f);
    }
    cmpib_free_block(b);
    return result;
}

// MARK: - The cost of the single copy, per page layout

static long cmpib_anon_huge_kb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
    }
    fclose(f);
    return kb;
}

// A buffer of `bytes` laid out as `layout`, touched; its mapping in *map and *map_length.
static char *cmpib_layout_alloc(size_t bytes, cmpib_page_layout layout, void **map, size_t *map_length) {
    const size_t page = 4096;
    size_t length = layout == CMPIB_PAGES_WHOLE_HUGE ? (bytes + CMPIB_HUGE_PAGE - 1) & ~(CMPIB_HUGE_PAGE - 1)
                                                     : (bytes + page - 1) & ~(page - 1);
    *map_length = length + CMPIB_HUGE_PAGE;
    *map = mmap(NULL, *map_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (*map == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)*map + CMPIB_HUGE_PAGE - 1) & ~(uintptr_t)(CMPIB_HUGE_PAGE - 1));
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    (void)madvise(p, length, layout == CMPIB_PAGES_SMALL ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
#endif
    memset(p, 1, length);
    return p;
}

static int cmpib_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cmpib_copy_cost_us(size_t bytes, cmpib_page_layout layout, int repeats, long *huge_kb) {
    if (repeats < 1 || bytes == 0) return -1;
    void *source_map, *destination_map;
    size_t source_length, destination_length;
    long before = cmpib_anon_huge_kb();
    char *source = cmpib_layout_alloc(bytes, layout, &source_map, &source_length);
    *huge_kb = cmpib_anon_huge_kb() - before;
    char *destination = cmpib_layout_alloc(bytes, layout, &destination_map, &destination_length);
    double *times = malloc(sizeof(double) * (size_t)repeats);
    double result = -1;
    if (source && destination && times) {
        pid_t self = getpid();
        int failed = 0;
        for (int r = 0; r < repeats && !failed; r++) {
            struct iovec local = {destination, bytes}, remote = {source, bytes};
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            failed = process_vm_readv(self, &local, 1, &remote, 1, 0) != (ssize_t)bytes;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            times[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-3;
        }
        if (!failed) {
            qsort(times, (size_t)repeats, sizeof(double), cmpib_compare_doubles);
            result = times[repeats / 2];
        }
    }
    free(times);
    if (source_map != MAP_FAILED) munmap(source_map, source_length);
    if (destination_map != MAP_FAILED) munmap(destination_map, destination_length);
    return result;
}
