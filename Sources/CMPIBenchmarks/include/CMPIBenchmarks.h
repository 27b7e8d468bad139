// The C reference benchmark of swift-mpi.
//
// OSU-style timing of the MPI primitives that the Swift library wraps, called
// directly from C with Float64 (MPI_DOUBLE) data. The Swift benchmark program
// (`mpi-benchmark`) drives these functions and interleaves them with its own
// timings of the Swift API, so that C and Swift run under the same mpirun, on
// the same processes, with the same method:
//
//   1. `cmpib_case_create` allocates and initialises the buffers of one
//      primitive at one message size, once, outside any timed region.
//   2. `cmpib_case_sample` is one sample: MPI_Barrier on the communicator,
//      then the wall time of N back-to-back calls, divided by N.
//   3. The caller takes repeated samples (warm-up first) and reports the median.
//
// Message sizes follow the OSU micro-benchmarks: `bytes` is the size of the
// block that one rank contributes or receives per peer (the per-rank send size
// of allgather and gather, the per-destination block of alltoall and scatter,
// the whole vector of allreduce, bcast, reduce and scan, and the message of the
// point-to-point tests).
#ifndef CMPI_BENCHMARKS_H
#define CMPI_BENCHMARKS_H

#include <mpi.h>
#include <stddef.h>

#pragma clang assume_nonnull begin

/// The primitives the reference benchmark times.
typedef enum cmpib_op {
    /// `MPI_Allgather`: each rank sends `bytes`, receives `size * bytes`.
    CMPIB_ALLGATHER = 0,
    /// `MPI_Allreduce` with `MPI_SUM` over a vector of `bytes`.
    CMPIB_ALLREDUCE = 1,
    /// `MPI_Alltoall`: a block of `bytes` to and from every rank.
    CMPIB_ALLTOALL = 2,
    /// `MPI_Barrier`; `bytes` is ignored.
    CMPIB_BARRIER = 3,
    /// `MPI_Bcast` of `bytes` from rank 0.
    CMPIB_BCAST = 4,
    /// `MPI_Gather` of `bytes` per rank to rank 0.
    CMPIB_GATHER = 5,
    /// `MPI_Reduce` with `MPI_SUM` of `bytes` to rank 0.
    CMPIB_REDUCE = 6,
    /// `MPI_Scan` (inclusive) with `MPI_SUM` over `bytes`.
    CMPIB_SCAN = 7,
    /// `MPI_Scatter` of `bytes` per rank from rank 0.
    CMPIB_SCATTER = 8,
    /// Ping-pong with `MPI_Send`/`MPI_Recv` between ranks 2k and 2k+1. One
    /// iteration is a round trip; a sample reports half of it (one-way
    /// latency, the time of one send or one receive call).
    CMPIB_PINGPONG = 9,
    /// Pair exchange with `MPI_Sendrecv` between ranks 2k and 2k+1.
    CMPIB_SENDRECV = 10,
    /// `MPI_Allgatherv` with every rank's count `bytes` (packed displacements).
    CMPIB_ALLGATHERV = 11,
    /// `MPI_Reduce_scatter_block` with `MPI_SUM`: each rank sends `size * bytes`, receives `bytes`.
    CMPIB_REDUCE_SCATTER_BLOCK = 12,
    /// `MPI_Exscan` with `MPI_SUM` over `bytes`.
    CMPIB_EXSCAN = 13,
    /// `MPI_Neighbor_alltoall` on a 1-D periodic Cartesian grid of the
    /// communicator's ranks (made when the case is created): a block of `bytes`
    /// to and from each of the two neighbours.
    CMPIB_NEIGHBOR_ALLTOALL = 14,
    /// `MPI_Iallreduce` with `MPI_SUM` over `bytes`, then `MPI_Wait` (start + wait).
    CMPIB_IALLREDUCE = 15,
    /// Pair exchange between ranks 2k and 2k+1 with `MPI_Irecv`, `MPI_Isend` and
    /// `MPI_Waitall` (mpi4py's `Irecv`/`Isend`/`Waitall`).
    CMPIB_IEXCHANGE = 16,
} cmpib_op;

/// How the buffers of a case are allocated.
typedef enum cmpib_alloc {
    /// Plain memory with 4 KiB pages, as `malloc` gives a C program that
    /// never asks for huge pages: `malloc` below 4 KiB, fresh anonymous `mmap`
    /// pages from 4 KiB. The larger blocks bypass `malloc` so that the
    /// reference stays the same whatever other code in the process has done to
    /// the heap (glibc moves even large blocks onto the heap once its dynamic
    /// mmap threshold has grown, and heap memory that the Swift library has
    /// advised for huge pages would make the reference fast in some runs only).
    CMPIB_ALLOC_MALLOC = 0,
    /// 2 MiB-aligned `posix_memalign`, rounded up to whole 2 MiB pages, with
    /// `madvise(MADV_HUGEPAGE)` so that transparent huge pages back it where
    /// the kernel allows.
    CMPIB_ALLOC_HUGEPAGE = 1,
} cmpib_alloc;

/// The buffers and parameters of one primitive at one message size.
typedef struct cmpib_case cmpib_case;

/// Creates a case: allocates the send and receive buffers (outside any timed
/// region) and fills them, so that every page is touched before timing.
///
/// - Parameters:
///   - op: the primitive.
///   - bytes: the message size in bytes, a multiple of 8 (Float64 elements).
///   - alloc: how to allocate the buffers.
///   - comm: the communicator; all ranks of it must create the same case.
/// - Returns: the case, or NULL when `bytes` is invalid or memory is short.
cmpib_case *_Nullable cmpib_case_create(cmpib_op op, size_t bytes, cmpib_alloc alloc, MPI_Comm comm);

/// Frees the buffers of a case.
void cmpib_case_destroy(cmpib_case *_Nullable c);

/// Takes one sample: `MPI_Barrier` on the case's communicator, then times
/// `iterations` back-to-back calls with `MPI_Wtime`.
///
/// - Parameters:
///   - c: the case.
///   - iterations: the number of calls to time, at least 1.
///   - seconds_per_call: receives the elapsed time divided by the number of
///     calls (for ping-pong, by twice the number of round trips).
/// - Returns: `MPI_SUCCESS`, or the first MPI error code returned.
int cmpib_case_sample(cmpib_case *c, int iterations, double *seconds_per_call);

/// Returns the partner of `rank` in the ping-pong and pair-exchange tests of
/// `op` on a communicator of `size` ranks: `rank ^ 1`, or -1 where that rank
/// does not exist (the last rank of an odd size idles in those tests). On one
/// rank, the sendrecv and iexchange tests pair the rank with itself (neither
/// can deadlock there), so that `profile` counts them on a single rank; the
/// ping-pong, whose blocking send comes first, idles.
int cmpib_case_partner(cmpib_op op, int rank, int size);

/// Runs the same loop as `cmpib_case_sample` without the barrier and without
/// timing, so that a profiler can attribute its cost (callgrind:
/// `--toggle-collect=cmpib_profile_loop`).
///
/// - Returns: `MPI_SUCCESS`, or the first MPI error code returned.
int cmpib_profile_loop(cmpib_case *c, int iterations);

/// `MPI_Wtime`, for timing the Swift side with the same clock.
double cmpib_wtime(void);

/// `MPI_Barrier` on `comm`, between samples.
int cmpib_barrier(MPI_Comm comm);

/// Replaces each of the `count` values on every rank by its maximum over the
/// ranks of `comm` (`MPI_Allreduce` with `MPI_MAX`, in place). Used after the
/// timed samples to report, per sample, the slowest rank.
int cmpib_max_over_ranks(double *values, int count, MPI_Comm comm);

/// The thread level MPI provides (`MPI_Query_thread`): 0 single, 1 funneled,
/// 2 serialized, 3 multiple; -1 on error.
int cmpib_query_thread_level(void);

/// Whether a huge-page buffer of `bytes` is actually backed by transparent huge
/// pages: allocates one as `CMPIB_ALLOC_HUGEPAGE` does, touches it and returns
/// the `AnonHugePages` kilobytes that `/proc/self/smaps` reports for it, or -1
/// when that cannot be read.
long cmpib_hugepage_probe_kb(size_t bytes);

/// The page layouts of `cmpib_copy_cost_us`.
typedef enum cmpib_page_layout {
    /// Fresh anonymous memory in 4 KiB pages, advised `MADV_NOHUGEPAGE`.
    CMPIB_PAGES_SMALL = 0,
    /// 2 MiB-aligned, rounded up to whole 2 MiB pages, advised `MADV_HUGEPAGE`.
    CMPIB_PAGES_WHOLE_HUGE = 1,
    /// 2 MiB-aligned, rounded up to whole 4 KiB pages, advised `MADV_HUGEPAGE`: huge
    /// pages where whole 2 MiB pages fit, 4 KiB pages for the rest.
    CMPIB_PAGES_HUGE_AND_SMALL_TAIL = 2,
} cmpib_page_layout;

/// The cost of the single copy that Open MPI's shared-memory transport makes for
/// a large message (`process_vm_readv`, here from this process to itself), from a
/// source to a destination buffer of `bytes`, both laid out as `layout` and
/// touched first: the median over `repeats` copies of the thread's CPU time, in
/// microseconds (CPU time, so that other processes on a busy machine count
/// little). `huge_kb` receives the `AnonHugePages` kilobytes the source buffer
/// got. Returns -1 when the memory cannot be had or the copy fails.
double cmpib_copy_cost_us(size_t bytes, cmpib_page_layout layout, int repeats, long *huge_kb);

#pragma clang assume_nonnull end

#endif // CMPI_BENCHMARKS_H
