// Threads for tests that call MPI from several threads: started at once, and
// joined, so that a test returns only once each thread has exited.
//
// A thread that merely signals the end of its work is still exiting when the
// test returns, freeing its memory. If that test is the last of its process,
// the process exits and the package finalises MPI at the same time, and Open
// MPI 4.1 unloads its components, among them the memory hooks that calls such
// as `madvise` pass through, under the exiting thread: the likely cause of a
// crash after every test passed (seen once in CI, ConcurrencyTests at 3 ranks on
// Open MPI: a thread returned from `madvise` into unmapped code; the same kind of
// race as StanfordLegion/realm#331 on Open MPI 5). Joined threads have exited.
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body(0)` … `body(count - 1)` on `count` threads of their own, started at once, each with a
/// stack of `stackSize` bytes, and returns once every thread has exited (`pthread_join`).
public func runOnJoinedThreads(_ count: Int, stackSize: Int = 8 << 20, _ body: @escaping @Sendable (Int) -> Void) {
    final class Work: Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(_ index: Int, _ body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.body = body
        }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackSize)
    var threads: [pthread_t] = []
    for index in 0..<count {
        let work = Unmanaged.passRetained(Work(index, body)).toOpaque()
        var thread = pthread_t()
        let made = pthread_create(&thread, &attributes, { raw in
            let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
            work.body(work.index)
            return nil
        }, work)
        precondition(made == 0, "runOnJoinedThreads: pthread_create failed (\(made))")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
