#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Memory for the large lookup tables of the fast path (the connection tables).
///
/// A table of a few megabytes on 4 KiB pages costs one TLB entry per page it touches:
/// 4096 flows spread over an 8 MiB conntrack table miss the TLB on almost every lookup,
/// and a page walk costs as much as the cache miss it precedes. Allocations of 2 MiB or
/// more are therefore anonymous mappings aligned to 2 MiB and marked `MADV_HUGEPAGE`:
/// with transparent huge pages in their default `madvise` mode the kernel backs them
/// with 2 MiB pages. Where it does not (THP off), they are ordinary pages. Mapped afresh,
/// not taken from malloc: heap pages already faulted in as 4 KiB pages cannot be made
/// huge by `madvise`. Smaller tables come from the Swift allocator.
public enum TableMemory {
    /// The size of an x86-64 and arm64 huge page, and the threshold for a mapping.
    public static let hugePageBytes = 2 << 20

    /// `bytes` bytes, 64-byte aligned (2 MiB aligned when mapped), zero-filled.
    public static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= hugePageBytes else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            return p
        }
        #if os(Linux)
        let length = mappedLength(bytes)
        // Map one huge page more than needed, then trim both ends to a 2 MiB boundary.
        let raw = mmap(nil, length + hugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { fatalError("TableMemory: cannot map \(bytes) bytes: errno \(errno)") }
        let start = (Int(bitPattern: raw) + hugePageBytes - 1) & ~(hugePageBytes - 1)
        let head = start - Int(bitPattern: raw)
        if head > 0 { munmap(raw, head) }
        let tail = hugePageBytes - head
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: start + length), tail) }
        let p = UnsafeMutableRawPointer(bitPattern: start)!
        _ = madvise(p, length, MADV_HUGEPAGE)  // advice only: without THP the pages stay small
        return p
        #else
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return p
        #endif
    }

    /// Frees memory from `allocate(bytes:)`, given the same `bytes`.
    public static func deallocate(_ p: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        if bytes >= hugePageBytes {
            munmap(p, mappedLength(bytes))
            return
        }
        #endif
        p.deallocate()
    }

    static func mappedLength(_ bytes: Int) -> Int { (bytes + hugePageBytes - 1) & ~(hugePageBytes - 1) }
}
