extension EndpointTable {
    /// First of two prefetch steps for large tables: starts loading the perfect hash's
    /// displacement word of `ip` (IPv4), which `prefetch(tenant:ip:)` must read before it
    /// knows which entry to load. A burst issues this for all its packets, then
    /// `prefetch(tenant:ip:)` for all, so neither waits on a miss in turn.
    @inlinable @inline(__always)
    public func prefetchDisplacement(tenant: UInt16, ip: IPAddress) {
        guard ip.isIPv4 else { return }
        let h = PolicyHash.v4(key: UInt64(tenant) << 32 | UInt64(ip.v4), seed: v4.seed)
        GBPCore.prefetch(UnsafeRawPointer(v4.displacements + Int(truncatingIfNeeded: h &>> v4.bucketShift)))
    }

    /// Starts loading the cache line `lookup(tenant:ip:)` will read for `ip`, so a
    /// burst pipeline can issue the loads of all its packets before probing any.
    @inlinable @inline(__always)
    public func prefetch(tenant: UInt16, ip: IPAddress) {
        if ip.isIPv4 {
            // The entry and the endpoint id beside it (a parallel array): both are read.
            let s = v4.slot(PolicyHash.v4(key: UInt64(tenant) << 32 | UInt64(ip.v4), seed: v4.seed))
            GBPCore.prefetch(UnsafeRawPointer(v4Entries + s))
            GBPCore.prefetch(UnsafeRawPointer(v4Endpoints + s))
        } else {
            GBPCore.prefetch(v6FirstSlot(tenant: tenant, ip: ip))
        }
    }
}
