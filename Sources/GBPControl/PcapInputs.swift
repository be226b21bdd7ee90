import GBPCore
import GBPRuntime

/// How many packets each port's finite pcap inputs hold, so the daemon can stop by
/// itself once they have all been received (`run.stop_when_inputs_drained`).
enum PcapInputs {
    /// Packets in the `rx_pcap=` files of a `net_pcap` devargs string; nil when the
    /// port has no finite pcap input (another PMD, `infinite_rx=1`, or `rx_iface`).
    static func finitePacketCount(devargs: String) throws -> Int? {
        let parts = devargs.split(separator: ",").map(String.init)
        guard let driver = parts.first, driver.hasPrefix("net_pcap") else { return nil }
        let args = parts.dropFirst()
        if args.contains(where: { $0 == "infinite_rx=1" }) { return nil }
        let files = args.filter { $0.hasPrefix("rx_pcap=") }.map { String($0.dropFirst("rx_pcap=".count)) }
        if files.isEmpty { return nil }
        return try files.reduce(0) { $0 + (try PcapReader.readAll(path: $1).count) }
    }
}
