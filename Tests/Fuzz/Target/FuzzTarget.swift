import GBPCore

/// One input: a frame of any bytes through parse, the responders, classify and conntrack.
enum FuzzTarget {
    static func run(_ data: UnsafeRawPointer, _ size: Int) {
        guard let f = ParseChecks.run(data, size) else { return }
        ResponderChecks.run(f, data, length: size)
        PolicyChecks.run(f)
    }
}

/// libFuzzer's entry point (Tests/Fuzz/run.sh builds this target with `--sanitize fuzzer`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    withUnsafeTemporaryAllocation(byteCount: 1, alignment: 1) { empty in
        FuzzTarget.run(data ?? UnsafeRawPointer(empty.baseAddress!), data == nil ? 0 : size)
    }
    return 0
}
