#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` on a short-lived thread of its own and waits for it.
///
/// Reading a large config (10k endpoints) allocates and frees hundreds of thousands of
/// small blocks. Done on the control thread, glibc keeps them in that thread's malloc
/// arena, and the first large allocation of the policy compile that follows sorts and
/// merges them all: 2-4 ms of every swap went there. A new thread gets an arena of its
/// own, so the reading's garbage stays out of the control thread's heap.
enum HelperThread {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func run<T>(_ body: () -> T) -> T {
        var result: T?
        withoutActuallyEscaping(body) { body in
            let arg = Unmanaged.passRetained(Job { result = body() }).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { arg in
                Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue().body()
                return nil
            }, arg) == 0
            if started {
                pthread_join(thread, nil)
            } else {
                Unmanaged<Job>.fromOpaque(arg).takeRetainedValue().body()  // no thread to be had: here
            }
        }
        return result!
    }
}
