import CDPDK

/// The DPDK Environment Abstraction Layer: started once per process.
public enum EAL {
    /// Runs `rte_eal_init` with `arguments` (argv[0] is added). Throws with rte_errno's text.
    public static func initialize(programName: String = "gbpd", arguments: [String]) throws(DPDKError) {
        let argv = ([programName] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        // rte_eal_init may permute argv: hand it a copy of the pointer array.
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        let rc = cArgs.withUnsafeMutableBufferPointer { buf in
            cdpdk_eal_init(Int32(argv.count), buf.baseAddress)
        }
        if rc < 0 { throw DPDKError.fromErrno("rte_eal_init with arguments \(arguments.joined(separator: " "))") }
    }

    public static func cleanup() { _ = rte_eal_cleanup() }

    public static var mainLcore: LcoreID { LcoreID(rawValue: rte_get_main_lcore()) }

    /// Whether `lcore` is enabled in EAL's core list (`-l`).
    public static func isEnabled(_ lcore: LcoreID) -> Bool { rte_lcore_is_enabled(lcore.rawValue) != 0 }

    public static var tscHz: UInt64 { cdpdk_tsc_hz() }

    /// SIGINT/SIGTERM request a stop, SIGHUP a reload; stdout becomes line-buffered.
    public static func installSignalHandlers() {
        cdpdk_install_signal_handlers()
        cdpdk_stdout_line_buffered()
    }
    public static var stopRequested: Bool { cdpdk_should_stop() }
    public static func requestStop() { cdpdk_request_stop() }
    /// True once per SIGHUP.
    public static func takeReloadRequest() -> Bool { cdpdk_take_reload_request() }
}
