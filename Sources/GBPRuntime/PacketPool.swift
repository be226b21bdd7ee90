import CDPDK

/// A pktmbuf mempool. The pool lives as long as the process (DPDK frees it at cleanup).
public struct PacketPool: @unchecked Sendable {
    public let pointer: OpaquePointer
    public let size: Int

    public init(name: String, count: Int, cacheSize: Int, dataRoom: Int = Int(RTE_MBUF_DEFAULT_BUF_SIZE)) throws(DPDKError) {
        guard let p = cdpdk_pktmbuf_pool_create(name, UInt32(count), UInt32(cacheSize), UInt16(dataRoom), Int32(rte_socket_id())) else {
            throw DPDKError.fromErrno("creating mempool '\(name)' of \(count) mbufs")
        }
        pointer = p
        size = count
    }

    /// mbufs currently taken from the pool (including those in per-lcore caches' complement).
    public var inUse: Int { Int(rte_mempool_in_use_count(pointer)) }
}
