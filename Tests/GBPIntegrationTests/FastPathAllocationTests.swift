import Foundation
import GBPCore
import Testing

/// The fast path allocates nothing: gbpd runs under an LD_PRELOAD interposer that
/// counts malloc/calloc/realloc/posix_memalign/aligned_alloc calls made on DPDK's
/// worker threads (named "rte-worker-N" by DPDK 22.11, "lcore-worker-N" by others). A run of 1 s and a run of 3 s at full rate
/// through the policy pipeline must show the same count (give or take one lazy
/// one-time set-up), so steady-state packet processing allocates nothing.
@Suite(.serialized)
struct FastPathAllocationTests {
    static let interposer = #"""
    #define _GNU_SOURCE
    #include <dlfcn.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/prctl.h>
    static unsigned long worker_allocs, all_allocs;
    static __thread int busy __attribute__((tls_model("initial-exec")));
    static void count(void) {
        if (busy) return;
        busy = 1;
        char name[17] = {0};
        prctl(PR_GET_NAME, name, 0, 0, 0);
        __atomic_add_fetch(&all_allocs, 1, __ATOMIC_RELAXED);
        if (strncmp(name, "rte-worker", 10) == 0 || strncmp(name, "lcore-worker", 12) == 0)
            __atomic_add_fetch(&worker_allocs, 1, __ATOMIC_RELAXED);
        busy = 0;
    }
    #define NEXT(f) static __typeof__(f) *real; if (!real) real = dlsym(RTLD_NEXT, #f)
    void *malloc(size_t n) { NEXT(malloc); count(); return real(n); }
    void *calloc(size_t a, size_t b) {
        /* dlsym itself may calloc: serve that from a static buffer. */
        static char early[4096]; static int in_dlsym;
        static __typeof__(calloc) *real;
        if (!real) { if (in_dlsym) return early; in_dlsym = 1; real = dlsym(RTLD_NEXT, "calloc"); in_dlsym = 0; }
        count(); return real(a, b);
    }
    void *realloc(void *p, size_t n) { NEXT(realloc); count(); return real(p, n); }
    int posix_memalign(void **p, size_t a, size_t n) { NEXT(posix_memalign); count(); return real(p, a, n); }
    void *aligned_alloc(size_t a, size_t n) { NEXT(aligned_alloc); count(); return real(a, n); }
    __attribute__((destructor)) static void report(void) {
        const char *path = getenv("GBP_ALLOC_REPORT");
        if (!path) return;
        FILE *f = fopen(path, "w");
        if (f) { fprintf(f, "%lu %lu\n", worker_allocs, all_allocs); fclose(f); }
    }
    """#

    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!

    /// Runs gbpd for `seconds` under the interposer; returns (worker allocations, all allocations, rx).
    func run(_ g: GBPDProcess, library: String, seconds: Double) throws -> (Int, Int, Int) {
        let config = """
        \(g.flowsHeader())
        \(GBPDProcess.shopPolicy())
        run: { stats_interval_s: 0 }
        """
        try config.write(toFile: g.path("gbpd.yaml"), atomically: true, encoding: .utf8)
        let report = g.path("allocs-\(seconds).txt")
        setenv("LD_PRELOAD", library, 1)
        setenv("GBP_ALLOC_REPORT", report, 1)
        defer { unsetenv("LD_PRELOAD"); unsetenv("GBP_ALLOC_REPORT") }
        let r = try g.run(config: config, extraArgs: ["--duration", String(seconds)])
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        let counts = try String(contentsOfFile: report, encoding: .utf8).split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (counts[0], counts[1], r.int("rx"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/cc"), "needs a C compiler (cc)"))
    func steadyStateProcessingAllocatesNothing() throws {
        let g = try GBPDProcess("allocs")
        defer { g.cleanUp() }
        try g.writePcap("flows.pcap", (0..<512).map {
            PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!,
                              srcPort: UInt16(3000 + $0), dstPort: 80)
        })
        try Self.interposer.write(toFile: g.path("count_allocs.c"), atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        cc.arguments = ["-shared", "-fPIC", "-O2", "-o", g.path("count_allocs.so"), g.path("count_allocs.c"), "-ldl"]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0)

        var short = try run(g, library: g.path("count_allocs.so"), seconds: 1)
        // On a loaded machine (CI runs suites in parallel on two cores) gbpd can spend its
        // first second starting, its worker not yet seen: run it again, up to twice.
        var tries = 1
        while (short.0 == 0 || short.2 < 100_000) && tries < 3 {
            short = try run(g, library: g.path("count_allocs.so"), seconds: 1)
            tries += 1
        }
        let long = try run(g, library: g.path("count_allocs.so"), seconds: 3)
        #expect(short.1 > 100, "the interposer sees the process's allocations")
        #expect(short.0 > 0, "the interposer recognises DPDK's worker threads (they allocate while starting)")
        #expect(long.2 > short.2 + 100_000, "the longer run processed more packets (\(short.2) then \(long.2))")
        // The counts include what the threads do once (starting, lazy one-time set-up,
        // which seldom lands after the first second); an allocation per packet or per
        // burst would add hundreds of thousands in the two extra seconds.
        #expect(long.0 <= short.0 + 1, "worker threads allocated \(short.0) times in 1 s and \(long.0) times in 3 s")
    }
}
