#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes pcapng (the format of Wireshark and DPDK's dumpcap) with a comment on every
/// packet: gbpd uses it to record each captured packet's verdict. DPDK 22.11's
/// rte_pcapng cannot attach per-packet comments, so the blocks are written here
/// (section header, one interface description per port, enhanced packet blocks
/// with an `opt_comment` option), little-endian, nanosecond timestamps.
public final class PcapngWriter {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>
    private var interfaceCount = 0

    /// Creates the file with one interface per name (Ethernet, nanosecond resolution).
    public init(path: String, interfaces: [String]) throws {
        self.path = path
        guard let f = fopen(path, "wb") else { throw PcapError.fromErrno(.open, path: path, doing: "open for writing") }
        file = f
        var shb: [UInt8] = []
        Self.put32(&shb, 0x1A2B_3C4D)              // byte-order magic
        Self.put16(&shb, 1); Self.put16(&shb, 0)   // version 1.0
        Self.put64(&shb, UInt64.max)               // section length: unknown
        try writeBlock(type: 0x0A0D_0D0A, body: shb + Self.options([(4, Array("gbpd".utf8))]))
        for name in interfaces { _ = try addInterface(name: name) }
    }

    /// Adds an interface (a port opened after the file was) and returns its index.
    public func addInterface(name: String) throws -> Int {
        var idb: [UInt8] = []
        Self.put16(&idb, 1); Self.put16(&idb, 0)   // LINKTYPE_ETHERNET, reserved
        Self.put32(&idb, 0)                        // snap length: none
        try writeBlock(type: 1, body: idb + Self.options([(2, Array(name.utf8)), (9, [9])]))   // if_name, if_tsresol 10^-9
        interfaceCount += 1
        return interfaceCount - 1
    }

    /// One enhanced packet block: `frame` (possibly cut), its original length, and a comment.
    public func write(_ frame: UnsafeRawBufferPointer, interface: Int, timestampNanos: UInt64, originalLength: Int,
                      comment: String) throws {
        var epb: [UInt8] = []
        Self.put32(&epb, UInt32(interface))
        Self.put32(&epb, UInt32(truncatingIfNeeded: timestampNanos >> 32))
        Self.put32(&epb, UInt32(truncatingIfNeeded: timestampNanos))
        Self.put32(&epb, UInt32(frame.count))
        Self.put32(&epb, UInt32(originalLength))
        epb += frame
        epb += [UInt8](repeating: 0, count: (4 - frame.count % 4) % 4)
        try writeBlock(type: 6, body: epb + Self.options([(1, Array(comment.utf8))]))
    }

    public func flush() { fflush(file) }

    public func close() { fclose(file) }

    private func writeBlock(type: UInt32, body: [UInt8]) throws {
        var b: [UInt8] = []
        let total = UInt32(12 + body.count)
        Self.put32(&b, type); Self.put32(&b, total)
        b += body
        Self.put32(&b, total)
        if fwrite(b, 1, b.count, file) != b.count { throw PcapError.fromErrno(.write, path: path, doing: "write") }
    }

    /// Options padded to 32 bits, ended by opt_endofopt.
    private static func options(_ opts: [(UInt16, [UInt8])]) -> [UInt8] {
        var o: [UInt8] = []
        for (code, value) in opts {
            put16(&o, code); put16(&o, UInt16(value.count))
            o += value
            o += [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        put32(&o, 0)
        return o
    }

    private static func put16(_ b: inout [UInt8], _ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private static func put32(_ b: inout [UInt8], _ v: UInt32) { for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    private static func put64(_ b: inout [UInt8], _ v: UInt64) { for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
}
