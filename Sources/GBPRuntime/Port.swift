import CDPDK

/// An ethdev port opened from devargs, with one rx and one tx queue per worker.
public struct Port: Sendable {
    public let name: String
    public let devargs: String
    public let id: PortID
    public let rxQueues: Int
    public let txQueues: Int
    public let rss: Bool
    public let driver: String

    /// Probes, configures and starts the port described by `devargs`.
    public static func open(name: String, devargs: String, queues: Int, rxDescriptors: Int, txDescriptors: Int,
                            pool: PacketPool) throws(DPDKError) -> Port {
        var info = cdpdk_port_info()
        var err = [CChar](repeating: 0, count: 512)
        let rc = cdpdk_port_open(devargs, UInt16(queues), UInt16(queues), UInt16(rxDescriptors), UInt16(txDescriptors),
                                 pool.pointer, &info, &err, err.count)
        if rc != 0 {
            throw DPDKError("opening port '\(name)'", code: rc, detail: String(cString: err))
        }
        let driver = withUnsafeBytes(of: info.driver) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        return Port(name: name, devargs: devargs, id: PortID(rawValue: info.port_id),
                    rxQueues: Int(info.nb_rx_queues), txQueues: Int(info.nb_tx_queues), rss: info.rss, driver: driver)
    }

    /// Stops and closes the port; PMDs return the mbufs they hold to the pool.
    public func close() { cdpdk_port_close(id.rawValue) }

    /// DPDK's own counters for the port.
    public func hardwareStats() -> cdpdk_port_stats {
        var s = cdpdk_port_stats()
        _ = cdpdk_port_stats(id.rawValue, &s)
        return s
    }
}
