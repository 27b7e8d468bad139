// The C shim of swift-mpi: what Swift cannot import from <mpi.h> directly.
//
// Open MPI's predefined handles (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, ...) are
// macros that take the address of global objects, and MPICH's are integer
// constants behind casts. Swift imports neither, so each handle gets a
// `static inline` getter here. The getters compile to a load of a constant and
// are inlined into Swift callers.
#ifndef SWIFT_MPI_SHIM_H
#define SWIFT_MPI_SHIM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

// Open MPI's handles are pointers and MPICH's are integers. Out-parameters of
// handle type import into Swift as UnsafeMutablePointer<MPI_Comm?> in the first
// case and UnsafeMutablePointer<MPI_Comm> in the second; the wrappers below
// take a pointer to a non-null handle so that one Swift source serves both.
#if defined(OPEN_MPI)
#define SWIFTMPI_HANDLE _Nonnull
#else
#define SWIFTMPI_HANDLE
#endif

// MARK: - Implementation identity

/// 1 when built against Open MPI, 2 for MPICH, 0 otherwise.
static inline int swiftmpi_implementation(void) {
#if defined(OPEN_MPI)
    return 1;
#elif defined(MPICH)
    return 2;
#else
    return 0;
#endif
}

// MARK: - Communicators and special values

static inline MPI_Comm swiftmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm swiftmpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm swiftmpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Info swiftmpi_info_null(void) { return MPI_INFO_NULL; }
/// A communicator handle as a machine word (a pointer in Open MPI, an int in MPICH), and back: for an
/// atomic store of the handle.
static inline intptr_t swiftmpi_comm_bits(MPI_Comm comm) { return (intptr_t)comm; }
static inline MPI_Comm swiftmpi_comm_from_bits(intptr_t bits) { return (MPI_Comm)bits; }
static inline MPI_Errhandler swiftmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Status *_Nullable swiftmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline void *swiftmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Datatype swiftmpi_datatype_null(void) { return MPI_DATATYPE_NULL; }
static inline MPI_Op swiftmpi_op_null(void) { return MPI_OP_NULL; }

static inline int swiftmpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int swiftmpi_any_tag(void) { return MPI_ANY_TAG; }
static inline int swiftmpi_proc_null(void) { return MPI_PROC_NULL; }
/// A communicator handle as an integer, for hashing (a pointer on Open MPI, an int on MPICH).
static inline intptr_t swiftmpi_comm_key(MPI_Comm comm) { return (intptr_t)comm; }
static inline int swiftmpi_undefined(void) { return MPI_UNDEFINED; }
static inline int swiftmpi_tag_ub_keyval(void) { return MPI_TAG_UB; }
static inline int swiftmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int swiftmpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int swiftmpi_ident(void) { return MPI_IDENT; }
static inline int swiftmpi_congruent(void) { return MPI_CONGRUENT; }

static inline int swiftmpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int swiftmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int swiftmpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int swiftmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

// MARK: - Status fields

static inline int swiftmpi_status_source(const MPI_Status *status) { return status->MPI_SOURCE; }
static inline int swiftmpi_status_tag(const MPI_Status *status) { return status->MPI_TAG; }

// MARK: - Datatypes

static inline MPI_Datatype swiftmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype swiftmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype swiftmpi_int8(void) { return MPI_INT8_T; }
static inline MPI_Datatype swiftmpi_int16(void) { return MPI_INT16_T; }
static inline MPI_Datatype swiftmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype swiftmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype swiftmpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype swiftmpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Datatype swiftmpi_uint32(void) { return MPI_UINT32_T; }
static inline MPI_Datatype swiftmpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype swiftmpi_c_bool(void) { return MPI_C_BOOL; }
static inline MPI_Datatype swiftmpi_c_float_complex(void) { return MPI_C_FLOAT_COMPLEX; }
static inline MPI_Datatype swiftmpi_c_double_complex(void) { return MPI_C_DOUBLE_COMPLEX; }
static inline MPI_Datatype swiftmpi_byte(void) { return MPI_BYTE; }

// MARK: - Reduction operations

static inline MPI_Op swiftmpi_op_sum(void) { return MPI_SUM; }
static inline MPI_Op swiftmpi_op_prod(void) { return MPI_PROD; }
static inline MPI_Op swiftmpi_op_min(void) { return MPI_MIN; }
static inline MPI_Op swiftmpi_op_max(void) { return MPI_MAX; }
static inline MPI_Op swiftmpi_op_land(void) { return MPI_LAND; }
static inline MPI_Op swiftmpi_op_lor(void) { return MPI_LOR; }
static inline MPI_Op swiftmpi_op_lxor(void) { return MPI_LXOR; }
static inline MPI_Op swiftmpi_op_band(void) { return MPI_BAND; }
static inline MPI_Op swiftmpi_op_bor(void) { return MPI_BOR; }
static inline MPI_Op swiftmpi_op_bxor(void) { return MPI_BXOR; }

// MARK: - Error classes (MPI 3.1 section 8.4)

static inline int swiftmpi_success(void) { return MPI_SUCCESS; }
static inline int swiftmpi_err_buffer(void) { return MPI_ERR_BUFFER; }
static inline int swiftmpi_err_count(void) { return MPI_ERR_COUNT; }
static inline int swiftmpi_err_type(void) { return MPI_ERR_TYPE; }
static inline int swiftmpi_err_tag(void) { return MPI_ERR_TAG; }
static inline int swiftmpi_err_comm(void) { return MPI_ERR_COMM; }
static inline int swiftmpi_err_rank(void) { return MPI_ERR_RANK; }
static inline int swiftmpi_err_request(void) { return MPI_ERR_REQUEST; }
static inline int swiftmpi_err_root(void) { return MPI_ERR_ROOT; }
static inline int swiftmpi_err_group(void) { return MPI_ERR_GROUP; }
static inline int swiftmpi_err_op(void) { return MPI_ERR_OP; }
static inline int swiftmpi_err_topology(void) { return MPI_ERR_TOPOLOGY; }
static inline int swiftmpi_err_dims(void) { return MPI_ERR_DIMS; }
static inline int swiftmpi_err_arg(void) { return MPI_ERR_ARG; }
static inline int swiftmpi_err_unknown(void) { return MPI_ERR_UNKNOWN; }
static inline int swiftmpi_err_truncate(void) { return MPI_ERR_TRUNCATE; }
static inline int swiftmpi_err_other(void) { return MPI_ERR_OTHER; }
static inline int swiftmpi_err_intern(void) { return MPI_ERR_INTERN; }
static inline int swiftmpi_err_in_status(void) { return MPI_ERR_IN_STATUS; }
static inline int swiftmpi_err_pending(void) { return MPI_ERR_PENDING; }
static inline int swiftmpi_err_no_mem(void) { return MPI_ERR_NO_MEM; }
static inline int swiftmpi_err_lastcode(void) { return MPI_ERR_LASTCODE; }

// MARK: - Calls with handle out-parameters

static inline int swiftmpi_comm_dup(MPI_Comm comm, MPI_Comm SWIFTMPI_HANDLE *out) { return MPI_Comm_dup(comm, out); }
static inline int swiftmpi_comm_split(MPI_Comm comm, int color, int key, MPI_Comm SWIFTMPI_HANDLE *out) {
    return MPI_Comm_split(comm, color, key, out);
}
static inline int swiftmpi_comm_free(MPI_Comm SWIFTMPI_HANDLE *comm) { return MPI_Comm_free(comm); }
static inline int swiftmpi_op_create(MPI_User_function *function, int commute, MPI_Op SWIFTMPI_HANDLE *out) {
    return MPI_Op_create(function, commute, out);
}
static inline int swiftmpi_op_free(MPI_Op SWIFTMPI_HANDLE *op) { return MPI_Op_free(op); }
static inline int swiftmpi_type_contiguous(int count, MPI_Datatype base, MPI_Datatype SWIFTMPI_HANDLE *out) {
    return MPI_Type_contiguous(count, base, out);
}
/// A datatype of `blocks` blocks of `block` followed by `rest` elements of `base`,
/// whose extent is exactly `extent` bytes (used for messages over INT_MAX elements).
static inline int swiftmpi_type_blocks_and_rest(int blocks, MPI_Datatype block, MPI_Aint restOffset, int rest,
                                                MPI_Datatype base, MPI_Aint extent,
                                                MPI_Datatype SWIFTMPI_HANDLE *out) {
    int lengths[2] = { blocks, rest };
    MPI_Aint offsets[2] = { 0, restOffset };
    MPI_Datatype types[2] = { block, base };
    MPI_Datatype tmp;
    int code = MPI_Type_create_struct(rest > 0 ? 2 : 1, lengths, offsets, types, &tmp);
    if (code != MPI_SUCCESS) return code;
    code = MPI_Type_create_resized(tmp, 0, extent, out);
    MPI_Type_free(&tmp);
    return code;
}
static inline int swiftmpi_type_commit(MPI_Datatype SWIFTMPI_HANDLE *type) { return MPI_Type_commit(type); }
static inline int swiftmpi_type_free(MPI_Datatype SWIFTMPI_HANDLE *type) { return MPI_Type_free(type); }
/// The number of basic elements received, as MPI_Count (MPI_Get_elements_x).
static inline int swiftmpi_get_elements(const MPI_Status *status, MPI_Datatype type, long long *count) {
    MPI_Count n = 0;
    int code = MPI_Get_elements_x(status, type, &n);
    *count = (long long)n;
    return code;
}

// MARK: - Matched probe and receive (a receive that knows the message's size first)

static inline MPI_Message swiftmpi_message_null(void) { return MPI_MESSAGE_NULL; }
static inline int swiftmpi_mprobe(int source, int tag, MPI_Comm comm, MPI_Message SWIFTMPI_HANDLE *message,
                                  MPI_Status *status) {
    return MPI_Mprobe(source, tag, comm, message, status);
}
static inline int swiftmpi_mrecv(void *_Nullable buffer, int count, MPI_Datatype type,
                                 MPI_Message SWIFTMPI_HANDLE *message, MPI_Status *status) {
    return MPI_Mrecv(buffer, count, type, message, status);
}
static inline MPI_Request swiftmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline int swiftmpi_isend(const void *_Nullable buffer, int count, MPI_Datatype type, int dest, int tag,
                                 MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Isend(buffer, count, type, dest, tag, comm, request);
}
static inline int swiftmpi_wait(MPI_Request SWIFTMPI_HANDLE *request) { return MPI_Wait(request, MPI_STATUS_IGNORE); }
/// The size of a probed message in bytes (MPI_Get_count with MPI_BYTE).
static inline int swiftmpi_status_bytes(const MPI_Status *status, long long *bytes) {
    MPI_Count n = 0;
    int code = MPI_Get_elements_x(status, MPI_BYTE, &n);
    *bytes = (long long)n;
    return code;
}
// MARK: - Non-blocking counterparts (the serialised path at MPI_THREAD_SERIALIZED)

static inline int swiftmpi_test(MPI_Request SWIFTMPI_HANDLE *request, int *done) {
    return MPI_Test(request, done, MPI_STATUS_IGNORE);
}
static inline int swiftmpi_improbe(int source, int tag, MPI_Comm comm, int *found,
                                   MPI_Message SWIFTMPI_HANDLE *message, MPI_Status *status) {
    return MPI_Improbe(source, tag, comm, found, message, status);
}
static inline int swiftmpi_imrecv(void *_Nullable buffer, int count, MPI_Datatype type,
                                  MPI_Message SWIFTMPI_HANDLE *message, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Imrecv(buffer, count, type, message, request);
}
/// The address that ``swiftmpi_distinct_send(_:_:)`` gives a send buffer equal to its receive buffer.
static const char swiftmpi_distinct_send_byte = 0;
/// `send`, or a distinct address where it equals `receive` (and is not `MPI_IN_PLACE`). Open MPI 4.1's
/// non-blocking collectives (libnbc, which this package's blocking collectives use at
/// `MPI_THREAD_SERIALIZED` and its non-blocking forms at every level) take a send buffer equal to the
/// receive buffer for `MPI_IN_PLACE` and run another schedule of messages, which the other processes'
/// collective does not match: the next collective on the communicator then waited for ever (an
/// alltoallv where one process sends and receives nothing, followed by an allgather). The package
/// passes equal buffers only where both are empty (Swift's empty arrays share one storage, or both
/// are null), so MPI reads nothing at the distinct address.
static inline const void *_Nullable swiftmpi_distinct_send(const void *_Nullable send, const void *_Nullable receive) {
    return send == receive && send != MPI_IN_PLACE ? (const void *)&swiftmpi_distinct_send_byte : send;
}
// The collectives take MPI's own arguments, so that the raw layer writes each
// blocking call and its non-blocking counterpart alike; only the request's
// out-parameter needs the wrapper.
static inline int swiftmpi_iallgather(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                      void *_Nullable receive, int receiveCount, MPI_Datatype receiveType,
                                      MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iallgather(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, comm, request);
}
static inline int swiftmpi_iallreduce(const void *_Nullable send, void *_Nullable receive, int count, MPI_Datatype type,
                                      MPI_Op op, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iallreduce(swiftmpi_distinct_send(send, receive), receive, count, type, op, comm, request);
}
static inline int swiftmpi_ialltoall(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                     void *_Nullable receive, int receiveCount, MPI_Datatype receiveType,
                                     MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ialltoall(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, comm, request);
}
static inline int swiftmpi_ibarrier(MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ibarrier(comm, request);
}
static inline int swiftmpi_ibcast(void *_Nullable buffer, int count, MPI_Datatype type, int root, MPI_Comm comm,
                                  MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ibcast(buffer, count, type, root, comm, request);
}
static inline int swiftmpi_igather(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                   void *_Nullable receive, int receiveCount, MPI_Datatype receiveType, int root,
                                   MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Igather(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, root, comm, request);
}
static inline int swiftmpi_ireduce(const void *_Nullable send, void *_Nullable receive, int count, MPI_Datatype type,
                                   MPI_Op op, int root, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ireduce(swiftmpi_distinct_send(send, receive), receive, count, type, op, root, comm, request);
}
static inline int swiftmpi_iscan(const void *_Nullable send, void *_Nullable receive, int count, MPI_Datatype type,
                                 MPI_Op op, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iscan(swiftmpi_distinct_send(send, receive), receive, count, type, op, comm, request);
}
static inline int swiftmpi_iscatter(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                    void *_Nullable receive, int receiveCount, MPI_Datatype receiveType, int root,
                                    MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iscatter(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, root, comm, request);
}
static inline int swiftmpi_comm_idup(MPI_Comm comm, MPI_Comm SWIFTMPI_HANDLE *out,
                                     MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Comm_idup(comm, out, request);
}
// MARK: - Requests (the non-blocking forms, Sources/MPI/Requests)

static inline int swiftmpi_request_is_null(MPI_Request request) { return request == MPI_REQUEST_NULL; }
/// `MPI_Iprobe`: `*found` is 1 when a matching message is waiting (and `status` describes it), else 0.
static inline int swiftmpi_iprobe(int source, int tag, MPI_Comm comm, int *found, MPI_Status *status) {
    return MPI_Iprobe(source, tag, comm, found, status);
}
static inline int swiftmpi_testsome(int count, MPI_Request SWIFTMPI_HANDLE *requests, int *completed, int *indices,
                                    MPI_Status *statuses) {
    return MPI_Testsome(count, requests, completed, indices, statuses);
}
/// 1 when the calling thread is the one that initialised MPI (MPI_Is_thread_main), else 0.
static inline int swiftmpi_is_thread_main(void) {
    int flag = 0;
    return MPI_Is_thread_main(&flag) == MPI_SUCCESS && flag;
}
static inline int swiftmpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

#pragma clang assume_nonnull end

// MARK: - Clock and atomics for the flight record (not MPI)

#include <time.h>

/// Nanoseconds of CLOCK_MONOTONIC_COARSE: a few nanoseconds to read, a few milliseconds of resolution.
static inline uint64_t swiftmpi_coarse_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
/// Nanoseconds of CLOCK_MONOTONIC.
static inline uint64_t swiftmpi_monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
/// Nanoseconds of CPU time of the calling thread.
static inline uint64_t swiftmpi_thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
/// `*value += 1`, atomically (relaxed), returning the old value.
static inline long swiftmpi_atomic_increment(long *_Nonnull value) {
    return __atomic_fetch_add(value, 1, __ATOMIC_RELAXED);
}
/// `*value`, atomically (relaxed).
static inline long swiftmpi_atomic_load_long(const long *_Nonnull value) {
    return __atomic_load_n(value, __ATOMIC_RELAXED);
}
/// `*value = newValue`, atomically (relaxed).
static inline void swiftmpi_atomic_store_long(long *_Nonnull value, long newValue) {
    __atomic_store_n(value, newValue, __ATOMIC_RELAXED);
}
static inline void swiftmpi_atomic_store(uint64_t *_Nonnull value, uint64_t newValue) {
    __atomic_store_n(value, newValue, __ATOMIC_RELEASE);
}
static inline uint64_t swiftmpi_atomic_load(const uint64_t *_Nonnull value) {
    return __atomic_load_n(value, __ATOMIC_ACQUIRE);
}

// MARK: - The calling thread's pool of request states (not MPI)

/// The calling thread's pool of finished request states (`StatePool` in Requests/PendingOperation.swift), or
/// NULL: a thread-local variable, one `%fs`-relative load in an executable, where `pthread_getspecific` is
/// a call of 17 instructions. The variable is a static of an inline function, so every object file that
/// calls the function has a variable of its own: only `StatePool.slotOfThisThread()`, never inlined, may
/// call it.
static inline void *_Nullable *_Nonnull swiftmpi_state_pool_slot(void) {
    static __thread void *_Nullable pool;
    return &pool;
}

// MARK: - Variable-size collectives, reduce-scatter, exscan and probes (issue 11)

#pragma clang assume_nonnull begin

static inline int swiftmpi_iallgatherv(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                       void *_Nullable receive, const int *receiveCounts, const int *displacements,
                                       MPI_Datatype receiveType, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iallgatherv(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCounts, displacements, receiveType, comm,
                           request);
}
static inline int swiftmpi_igatherv(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                    void *_Nullable receive, const int *_Nullable receiveCounts,
                                    const int *_Nullable displacements, MPI_Datatype receiveType, int root,
                                    MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Igatherv(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCounts, displacements, receiveType, root, comm,
                        request);
}
static inline int swiftmpi_iscatterv(const void *_Nullable send, const int *_Nullable sendCounts,
                                     const int *_Nullable displacements, MPI_Datatype sendType,
                                     void *_Nullable receive, int receiveCount, MPI_Datatype receiveType, int root,
                                     MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iscatterv(swiftmpi_distinct_send(send, receive), sendCounts, displacements, sendType, receive, receiveCount, receiveType, root, comm,
                         request);
}
static inline int swiftmpi_ialltoallv(const void *_Nullable send, const int *sendCounts, const int *sendDisplacements,
                                      MPI_Datatype sendType, void *_Nullable receive, const int *receiveCounts,
                                      const int *receiveDisplacements, MPI_Datatype receiveType, MPI_Comm comm,
                                      MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ialltoallv(swiftmpi_distinct_send(send, receive), sendCounts, sendDisplacements, sendType, receive, receiveCounts,
                          receiveDisplacements, receiveType, comm, request);
}
static inline int swiftmpi_ireduce_scatter_block(const void *_Nullable send, void *_Nullable receive, int count,
                                                 MPI_Datatype type, MPI_Op op, MPI_Comm comm,
                                                 MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ireduce_scatter_block(swiftmpi_distinct_send(send, receive), receive, count, type, op, comm, request);
}
static inline int swiftmpi_ireduce_scatter(const void *_Nullable send, void *_Nullable receive, const int *counts,
                                           MPI_Datatype type, MPI_Op op, MPI_Comm comm,
                                           MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ireduce_scatter(swiftmpi_distinct_send(send, receive), receive, counts, type, op, comm, request);
}
static inline int swiftmpi_iexscan(const void *_Nullable send, void *_Nullable receive, int count, MPI_Datatype type,
                                   MPI_Op op, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Iexscan(swiftmpi_distinct_send(send, receive), receive, count, type, op, comm, request);
}
/// A committed datatype for MPI_Alltoallw that places `count` elements of `base` at element `offset` of
/// the buffer (a byte displacement, MPI_Aint, so any offset), to be sent or received as ONE element: blocks of 2^30 elements plus the rest, as a
/// struct type. Its type signature is `count` elements of `base`, whatever the offset.
static inline int swiftmpi_type_block_at(long long count, MPI_Datatype base, long long offset,
                                         MPI_Datatype SWIFTMPI_HANDLE *out) {
    const long long chunk = 1LL << 30;
    long long blocks = count / chunk;
    int rest = (int)(count % chunk);
    MPI_Aint lb = 0, extent = 0;
    int code = MPI_Type_get_extent(base, &lb, &extent);
    if (code != MPI_SUCCESS) return code;
    if (blocks > 2147483647LL) return MPI_ERR_COUNT;
    MPI_Datatype block = MPI_DATATYPE_NULL;
    int lengths[2];
    MPI_Aint offsets[2];
    MPI_Datatype types[2];
    int n = 0;
    if (blocks > 0) {
        code = MPI_Type_contiguous((int)chunk, base, &block);
        if (code != MPI_SUCCESS) return code;
        lengths[n] = (int)blocks; offsets[n] = (MPI_Aint)offset * extent; types[n] = block; n++;
    }
    if (rest > 0 || n == 0) {
        lengths[n] = rest; offsets[n] = (MPI_Aint)(offset + blocks * chunk) * extent; types[n] = base; n++;
    }
    code = MPI_Type_create_struct(n, lengths, offsets, types, out);
    if (block != MPI_DATATYPE_NULL) MPI_Type_free(&block);
    if (code != MPI_SUCCESS) return code;
    code = MPI_Type_commit(out);
    if (code != MPI_SUCCESS) MPI_Type_free(out);
    return code;
}
static inline int swiftmpi_alltoallw(const void *_Nullable send, const int *sendCounts, const int *sendDisplacements,
                                     const MPI_Datatype SWIFTMPI_HANDLE *sendTypes, void *_Nullable receive,
                                     const int *receiveCounts, const int *receiveDisplacements,
                                     const MPI_Datatype SWIFTMPI_HANDLE *receiveTypes, MPI_Comm comm) {
    return MPI_Alltoallw(send, sendCounts, sendDisplacements, sendTypes, receive, receiveCounts,
                         receiveDisplacements, receiveTypes, comm);
}
static inline int swiftmpi_ialltoallw(const void *_Nullable send, const int *sendCounts, const int *sendDisplacements,
                                      const MPI_Datatype SWIFTMPI_HANDLE *sendTypes, void *_Nullable receive,
                                      const int *receiveCounts, const int *receiveDisplacements,
                                      const MPI_Datatype SWIFTMPI_HANDLE *receiveTypes, MPI_Comm comm,
                                      MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ialltoallw(swiftmpi_distinct_send(send, receive), sendCounts, sendDisplacements, sendTypes, receive, receiveCounts,
                         receiveDisplacements, receiveTypes, comm, request);
}
/// MPI 4.0's large-count variable-size collectives (`MPI_Alltoallv_c` and the like: MPI_Count counts, MPI_Aint
/// displacements), where the library has them (MPICH 4; not Open MPI 4.1, whose MPI_VERSION is 3). A `_c` call is
/// the same collective as the plain one, so ranks may mix them. Counts and displacements are `long` here (Swift
/// `Int`, 64 bits, as MPI_Count and MPI_Aint); without the functions every wrapper returns
/// SWIFTMPI_NO_LARGE_COUNT and calls nothing. `swiftmpi_has_large_count()` says which.
#define SWIFTMPI_NO_LARGE_COUNT (-77002)
#if MPI_VERSION >= 4
_Static_assert(sizeof(MPI_Count) == sizeof(long) && sizeof(MPI_Aint) == sizeof(long), "64-bit MPI_Count and MPI_Aint");
#define SWIFTMPI_LARGE_COUNT(call) return call
#define SWIFTMPI_COUNTS(p) ((const MPI_Count *)(p))
#define SWIFTMPI_DISPLACEMENTS(p) ((const MPI_Aint *)(p))
static inline int swiftmpi_has_large_count(void) { return 1; }
#else
#define SWIFTMPI_LARGE_COUNT(call) return SWIFTMPI_NO_LARGE_COUNT
static inline int swiftmpi_has_large_count(void) { return 0; }
#endif
static inline int swiftmpi_alltoallv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                       const long *_Nullable sendDisplacements, MPI_Datatype sendType, void *_Nullable receive,
                                       const long *_Nullable receiveCounts, const long *_Nullable receiveDisplacements,
                                       MPI_Datatype receiveType, MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Alltoallv_c(send, SWIFTMPI_COUNTS(sendCounts), SWIFTMPI_DISPLACEMENTS(sendDisplacements),
                                         sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                         SWIFTMPI_DISPLACEMENTS(receiveDisplacements), receiveType, comm));
}
static inline int swiftmpi_ialltoallv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                        const long *_Nullable sendDisplacements, MPI_Datatype sendType, void *_Nullable receive,
                                        const long *_Nullable receiveCounts, const long *_Nullable receiveDisplacements,
                                        MPI_Datatype receiveType, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Ialltoallv_c(send, SWIFTMPI_COUNTS(sendCounts), SWIFTMPI_DISPLACEMENTS(sendDisplacements),
                                          sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                          SWIFTMPI_DISPLACEMENTS(receiveDisplacements), receiveType, comm, request));
}
static inline int swiftmpi_allgatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                        void *_Nullable receive, const long *_Nullable receiveCounts, const long *_Nullable displacements,
                                        MPI_Datatype receiveType, MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Allgatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                          SWIFTMPI_DISPLACEMENTS(displacements), receiveType, comm));
}
static inline int swiftmpi_iallgatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                         void *_Nullable receive, const long *_Nullable receiveCounts, const long *_Nullable displacements,
                                         MPI_Datatype receiveType, MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Iallgatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                           SWIFTMPI_DISPLACEMENTS(displacements), receiveType, comm, request));
}
static inline int swiftmpi_gatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                     void *_Nullable receive, const long *_Nullable receiveCounts,
                                     const long *_Nullable displacements, MPI_Datatype receiveType, int root,
                                     MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Gatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                       SWIFTMPI_DISPLACEMENTS(displacements), receiveType, root, comm));
}
static inline int swiftmpi_igatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                      void *_Nullable receive, const long *_Nullable receiveCounts,
                                      const long *_Nullable displacements, MPI_Datatype receiveType, int root,
                                      MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Igatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                        SWIFTMPI_DISPLACEMENTS(displacements), receiveType, root, comm, request));
}
static inline int swiftmpi_scatterv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                      const long *_Nullable displacements, MPI_Datatype sendType,
                                      void *_Nullable receive, long receiveCount, MPI_Datatype receiveType, int root,
                                      MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Scatterv_c(send, SWIFTMPI_COUNTS(sendCounts), SWIFTMPI_DISPLACEMENTS(displacements),
                                        sendType, receive, receiveCount, receiveType, root, comm));
}
static inline int swiftmpi_iscatterv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                       const long *_Nullable displacements, MPI_Datatype sendType,
                                       void *_Nullable receive, long receiveCount, MPI_Datatype receiveType, int root,
                                       MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Iscatterv_c(send, SWIFTMPI_COUNTS(sendCounts), SWIFTMPI_DISPLACEMENTS(displacements),
                                         sendType, receive, receiveCount, receiveType, root, comm, request));
}
static inline int swiftmpi_neighbor_allgatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                                 void *_Nullable receive, const long *_Nullable receiveCounts,
                                                 const long *_Nullable displacements, MPI_Datatype receiveType, MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Neighbor_allgatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                                   SWIFTMPI_DISPLACEMENTS(displacements), receiveType, comm));
}
static inline int swiftmpi_ineighbor_allgatherv_c(const void *_Nullable send, long sendCount, MPI_Datatype sendType,
                                                  void *_Nullable receive, const long *_Nullable receiveCounts,
                                                  const long *_Nullable displacements, MPI_Datatype receiveType, MPI_Comm comm,
                                                  MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Ineighbor_allgatherv_c(send, sendCount, sendType, receive, SWIFTMPI_COUNTS(receiveCounts),
                                                    SWIFTMPI_DISPLACEMENTS(displacements), receiveType, comm,
                                                    request));
}
static inline int swiftmpi_neighbor_alltoallv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                                const long *_Nullable sendDisplacements, MPI_Datatype sendType,
                                                void *_Nullable receive, const long *_Nullable receiveCounts,
                                                const long *_Nullable receiveDisplacements, MPI_Datatype receiveType,
                                                MPI_Comm comm) {
    SWIFTMPI_LARGE_COUNT(MPI_Neighbor_alltoallv_c(send, SWIFTMPI_COUNTS(sendCounts),
                                                  SWIFTMPI_DISPLACEMENTS(sendDisplacements), sendType, receive,
                                                  SWIFTMPI_COUNTS(receiveCounts),
                                                  SWIFTMPI_DISPLACEMENTS(receiveDisplacements), receiveType, comm));
}
static inline int swiftmpi_ineighbor_alltoallv_c(const void *_Nullable send, const long *_Nullable sendCounts,
                                                 const long *_Nullable sendDisplacements, MPI_Datatype sendType,
                                                 void *_Nullable receive, const long *_Nullable receiveCounts,
                                                 const long *_Nullable receiveDisplacements, MPI_Datatype receiveType,
                                                 MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    SWIFTMPI_LARGE_COUNT(MPI_Ineighbor_alltoallv_c(send, SWIFTMPI_COUNTS(sendCounts),
                                                   SWIFTMPI_DISPLACEMENTS(sendDisplacements), sendType, receive,
                                                   SWIFTMPI_COUNTS(receiveCounts),
                                                   SWIFTMPI_DISPLACEMENTS(receiveDisplacements), receiveType, comm,
                                                   request));
}
#undef SWIFTMPI_LARGE_COUNT
#undef SWIFTMPI_COUNTS
#undef SWIFTMPI_DISPLACEMENTS
/// `MPI_Iprobe` is `swiftmpi_iprobe`, above (shared with the non-blocking receives).
/// `MPI_Probe`.
static inline int swiftmpi_probe(int source, int tag, MPI_Comm comm, MPI_Status *status) {
    return MPI_Probe(source, tag, comm, status);
}

#pragma clang assume_nonnull end

// MARK: - Cartesian topologies and neighbour collectives (branch cartesian)

#pragma clang assume_nonnull begin

static inline int swiftmpi_cart_create(MPI_Comm comm, int ndims, const int *dims, const int *periods, int reorder,
                                       MPI_Comm SWIFTMPI_HANDLE *out) {
    return MPI_Cart_create(comm, ndims, dims, periods, reorder, out);
}
static inline int swiftmpi_cart_sub(MPI_Comm comm, const int *remain, MPI_Comm SWIFTMPI_HANDLE *out) {
    return MPI_Cart_sub(comm, remain, out);
}
/// The communicator's topology (0 none, 1 Cartesian, 2 graph, 3 distributed graph) and its
/// neighbour counts: in-degree (blocks received) and out-degree (blocks sent) of the neighbour collectives.
/// Sets `*may` to what may leave a block of this rank's neighbour-collective results unwritten on the
/// Cartesian grid `comm`: 1 when the rank has a null neighbour (it sits at a wall of a non-periodic
/// dimension), plus 2 when one process is on both sides of a periodic dimension (of 1 or 2
/// processes); 0 for neither; 3 when the grid has more than 32 dimensions.
static inline int swiftmpi_cart_unwritten_blocks(MPI_Comm comm, int *may) {
    int ndims = 0, code = MPI_Cartdim_get(comm, &ndims);
    *may = 3;
    if (code != MPI_SUCCESS || ndims > 32) return code;
    int dims[32], periods[32], coords[32];
    code = MPI_Cart_get(comm, ndims, dims, periods, coords);
    if (code != MPI_SUCCESS) return code;
    *may = 0;
    for (int d = 0; d < ndims; d++) {
        // A wall: a null neighbour, whose block MPI leaves untouched.
        if (!periods[d] && (coords[d] == 0 || coords[d] == dims[d] - 1)) *may |= 1;
        // One process on both sides: MPICH 4.0 matches the two directions' messages by source and
        // tag alone and can leave a block unwritten when their lengths differ (the v forms).
        if (periods[d] && dims[d] <= 2) *may |= 2;
    }
    return MPI_SUCCESS;
}
/// Sets `*repeated` to 2 when a graph topology's neighbour list names a rank twice (or is too long
/// to look at), else 0: the second bit of ``swiftmpi_cart_unwritten_blocks``.
static inline int swiftmpi_graph_repeated_neighbors(MPI_Comm comm, int rank, int n, int *repeated) {
    *repeated = 2;
    if (n > 64) return MPI_SUCCESS;
    int neighbors[64];
    int code = MPI_Graph_neighbors(comm, rank, n, neighbors);
    if (code != MPI_SUCCESS) return code;
    *repeated = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (neighbors[i] == neighbors[j]) *repeated = 2;
    return MPI_SUCCESS;
}
/// The topology of `comm`: its kind (0 none, 1 Cartesian, 2 graph, 3 distributed graph), its
/// neighbour counts, and what may leave a block of this rank's neighbour-collective results unwritten
/// (`*unwritten`: 1 a null neighbour, 2 one rank on two sides, as ``swiftmpi_cart_unwritten_blocks``;
/// 3 unless known).
static inline int swiftmpi_topology(MPI_Comm comm, int *kind, int *indegree, int *outdegree, int *unwritten) {
    int status = MPI_UNDEFINED, code = MPI_Topo_test(comm, &status);
    *kind = 0; *indegree = 0; *outdegree = 0; *unwritten = 3;
    if (code != MPI_SUCCESS) return code;
    if (status == MPI_CART) {
        int ndims = 0;
        code = MPI_Cartdim_get(comm, &ndims);
        *kind = 1; *indegree = 2 * ndims; *outdegree = 2 * ndims;
        if (code == MPI_SUCCESS) code = swiftmpi_cart_unwritten_blocks(comm, unwritten);
    } else if (status == MPI_GRAPH) {
        int rank = 0, n = 0;
        code = MPI_Comm_rank(comm, &rank);
        if (code == MPI_SUCCESS) code = MPI_Graph_neighbors_count(comm, rank, &n);
        if (code == MPI_SUCCESS) code = swiftmpi_graph_repeated_neighbors(comm, rank, n, unwritten);
        *kind = 2; *indegree = n; *outdegree = n;
    } else if (status == MPI_DIST_GRAPH) {
        int weighted = 0;
        code = MPI_Dist_graph_neighbors_count(comm, indegree, outdegree, &weighted);
        *kind = 3;
    }
    return code;
}
#pragma clang assume_nonnull end
/// `MPI_Finalize`'s deletion of `MPI_COMM_SELF`'s attributes, which it makes first (MPI 3.1, 8.7.1):
/// calls the hook that ``swiftmpi_call_at_finalize`` registered (its `extra` state).
static inline int swiftmpi_finalize_callback(MPI_Comm comm, int keyval, void *_Nullable value,
                                             void *_Nullable extra) {
    (void)comm; (void)keyval; (void)value;
    if (extra != NULL) ((void (*)(void))extra)();
    return MPI_SUCCESS;
}
#pragma clang assume_nonnull begin
/// Has `hook` called at the start of `MPI_Finalize`, whoever calls it (this package, or C code that owns
/// MPI): an attribute on `MPI_COMM_SELF` whose deletion calls it.
static inline int swiftmpi_call_at_finalize(void (*hook)(void)) {
    int keyval = MPI_KEYVAL_INVALID;
    int code = MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, swiftmpi_finalize_callback, &keyval, (void *)hook);
    if (code != MPI_SUCCESS) return code;
    return MPI_Comm_set_attr(MPI_COMM_SELF, keyval, NULL);
}
/// How the library pairs the messages between one pair of processes that are neighbours in more than
/// one slot (a periodic dimension of one or two processes), in `variant` (0 `MPI_Neighbor_alltoall`, 1
/// `MPI_Neighbor_alltoallv`, 2 and 3 their non-blocking forms), found on a 1 × 1 grid periodic in both
/// dimensions of this process alone (`MPI_COMM_SELF`: local, no message to another process), where
/// the process is all four of its neighbours: `*pairing` 0 by direction (the block sent towards +1
/// arrives in the receiver's -1 slot, as a shift: blocks [1, 2, 3, 4] arrive as [2, 1, 4, 3]); 1 the
/// receives matched in slot order with the sends in slot order ([1, 2, 3, 4]); 3 the receives in
/// reverse slot order ([4, 3, 2, 1]); 2 another way.
static inline int swiftmpi_neighbor_pairing(int variant, int *pairing) {
    MPI_Comm grid = MPI_COMM_NULL;
    int dims[2] = {1, 1}, periods[2] = {1, 1};
    *pairing = 2;
    int code = MPI_Cart_create(MPI_COMM_SELF, 2, dims, periods, 0, &grid);
    if (code != MPI_SUCCESS) return code;
    MPI_Comm_set_errhandler(grid, MPI_ERRORS_RETURN);
    int send[4] = {1, 2, 3, 4}, r[4] = {0, 0, 0, 0}, counts[4] = {1, 1, 1, 1}, displacements[4] = {0, 1, 2, 3};
    MPI_Request request = MPI_REQUEST_NULL;
    if (variant == 0) code = MPI_Neighbor_alltoall(send, 1, MPI_INT, r, 1, MPI_INT, grid);
    if (variant == 1) code = MPI_Neighbor_alltoallv(send, counts, displacements, MPI_INT, r, counts, displacements, MPI_INT, grid);
    if (variant == 2) code = MPI_Ineighbor_alltoall(send, 1, MPI_INT, r, 1, MPI_INT, grid, &request);
    if (variant == 3)
        code = MPI_Ineighbor_alltoallv(send, counts, displacements, MPI_INT, r, counts, displacements, MPI_INT, grid,
                                       &request);
    if (code == MPI_SUCCESS && request != MPI_REQUEST_NULL) code = MPI_Wait(&request, MPI_STATUS_IGNORE);
    MPI_Comm_free(&grid);
    if (code != MPI_SUCCESS) return code;
    if (r[0] == 2 && r[1] == 1 && r[2] == 4 && r[3] == 3) *pairing = 0;
    else if (r[0] == 1 && r[1] == 2 && r[2] == 3 && r[3] == 4) *pairing = 1;
    else if (r[0] == 4 && r[1] == 3 && r[2] == 2 && r[3] == 1) *pairing = 3;
    return MPI_SUCCESS;
}
/// The ranks of `comm`'s in-neighbours (`sources`, `indegree` of them) and out-neighbours
/// (`destinations`, `outdegree`), in the order of the neighbour collectives' blocks, with -1 for a
/// null neighbour (past a wall); `kind` and the degrees as ``swiftmpi_topology`` gives them. For the
/// cross-rank check of the neighbour `v` forms (SWIFT_MPI_CHECK=1); every call here is local.
/// `weights`: room for `indegree + outdegree` integers, which a distributed graph with weights writes.
static inline int swiftmpi_topology_neighbors(MPI_Comm comm, int kind, int *sources, int indegree, int *destinations,
                                              int outdegree, int *weights) {
    int code = MPI_SUCCESS;
    if (kind == 1) {
        for (int d = 0; 2 * d + 1 < indegree && 2 * d + 1 < outdegree && code == MPI_SUCCESS; d++) {
            int below = MPI_PROC_NULL, above = MPI_PROC_NULL;
            code = MPI_Cart_shift(comm, d, 1, &below, &above);
            // Dimension d's blocks: the process below it first, then the one above it, in both lists.
            sources[2 * d] = destinations[2 * d] = below == MPI_PROC_NULL ? -1 : below;
            sources[2 * d + 1] = destinations[2 * d + 1] = above == MPI_PROC_NULL ? -1 : above;
        }
    } else if (kind == 2) {
        int rank = 0;
        code = MPI_Comm_rank(comm, &rank);
        if (code == MPI_SUCCESS) code = MPI_Graph_neighbors(comm, rank, indegree, sources);
        for (int i = 0; i < outdegree && i < indegree; i++) destinations[i] = sources[i];
    } else if (kind == 3) {
        code = MPI_Dist_graph_neighbors(comm, indegree, sources, weights, outdegree, destinations, weights + indegree);
        for (int i = 0; i < indegree; i++) if (sources[i] == MPI_PROC_NULL) sources[i] = -1;
        for (int i = 0; i < outdegree; i++) if (destinations[i] == MPI_PROC_NULL) destinations[i] = -1;
    }
    return code;
}
static inline int swiftmpi_ineighbor_allgather(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                               void *_Nullable receive, int receiveCount, MPI_Datatype receiveType,
                                               MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ineighbor_allgather(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, comm, request);
}
static inline int swiftmpi_ineighbor_allgatherv(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                                void *_Nullable receive, const int *receiveCounts,
                                                const int *displacements, MPI_Datatype receiveType, MPI_Comm comm,
                                                MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ineighbor_allgatherv(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCounts, displacements, receiveType,
                                    comm, request);
}
static inline int swiftmpi_ineighbor_alltoall(const void *_Nullable send, int sendCount, MPI_Datatype sendType,
                                              void *_Nullable receive, int receiveCount, MPI_Datatype receiveType,
                                              MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ineighbor_alltoall(swiftmpi_distinct_send(send, receive), sendCount, sendType, receive, receiveCount, receiveType, comm, request);
}
static inline int swiftmpi_ineighbor_alltoallv(const void *_Nullable send, const int *sendCounts,
                                               const int *sendDisplacements, MPI_Datatype sendType,
                                               void *_Nullable receive, const int *receiveCounts,
                                               const int *receiveDisplacements, MPI_Datatype receiveType,
                                               MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Ineighbor_alltoallv(swiftmpi_distinct_send(send, receive), sendCounts, sendDisplacements, sendType, receive, receiveCounts,
                                   receiveDisplacements, receiveType, comm, request);
}

#pragma clang assume_nonnull end

// MARK: - Persistent requests (Sources/MPI/Persistent: halo plans made once, started every step)

#pragma clang assume_nonnull begin

static inline int swiftmpi_send_init(const void *_Nullable buffer, int count, MPI_Datatype type, int dest, int tag,
                                     MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Send_init(buffer, count, type, dest, tag, comm, request);
}
static inline int swiftmpi_recv_init(void *_Nullable buffer, int count, MPI_Datatype type, int source, int tag,
                                     MPI_Comm comm, MPI_Request SWIFTMPI_HANDLE *request) {
    return MPI_Recv_init(buffer, count, type, source, tag, comm, request);
}
static inline int swiftmpi_startall(int count, MPI_Request SWIFTMPI_HANDLE *requests) {
    return MPI_Startall(count, requests);
}
static inline int swiftmpi_waitall(int count, MPI_Request SWIFTMPI_HANDLE *requests, MPI_Status *statuses) {
    return MPI_Waitall(count, requests, statuses);
}
static inline int swiftmpi_testall(int count, MPI_Request SWIFTMPI_HANDLE *requests, int *done, MPI_Status *statuses) {
    return MPI_Testall(count, requests, done, statuses);
}
static inline int swiftmpi_request_free(MPI_Request SWIFTMPI_HANDLE *request) { return MPI_Request_free(request); }
static inline int swiftmpi_cancel(MPI_Request SWIFTMPI_HANDLE *request) { return MPI_Cancel(request); }
/// The error code of one request of a completed set (meaningful when the set returned MPI_ERR_IN_STATUS).
static inline int swiftmpi_status_error(const MPI_Status *status) { return status->MPI_ERROR; }

#pragma clang assume_nonnull end

#endif // SWIFT_MPI_SHIM_H
