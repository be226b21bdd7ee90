extension EndpointTable {
    /// Starts loading the cache line `lookup(tenant:ip:)` will read for `ip`, so a
    /// burst pipeline can issue the loads of all its packets before probing any.
    @inlinable @inline(__always)
    public func prefetch(tenant: UInt16, ip: IPAddress) {
        if ip.isIPv4 {
            GBPCore.prefetch(UnsafeRawPointer(v4Entry(key: UInt64(tenant) << 32 | UInt64(ip.v4))))
        } else {
            GBPCore.prefetch(v6FirstSlot(tenant: tenant, ip: ip))
        }
    }
}
