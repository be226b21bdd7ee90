// Classic libpcap files (not pcapng): a 24-byte file header, then per packet a
// 16-byte record header and the captured bytes. Written little-endian with
// microsecond (magic 0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps; read in
// either byte order and either resolution. Uses libc stdio, not Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure reading or writing a pcap file, naming the file.
public struct PcapError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case open, write, read, close
        case badMagic         // not a classic pcap file
        case truncated        // ends inside a header or a packet
        case badRecord        // a record claims more bytes than any sane capture
        case notEthernet      // link type is not 1 where Ethernet frames were asked for
        case closed           // used after close()
    }
    public let kind: Kind
    public let path: String
    public let detail: String

    public init(_ kind: Kind, path: String, _ detail: String) {
        self.kind = kind; self.path = path; self.detail = detail
    }

    public var description: String { "pcap file \(path): \(detail)" }

    static func fromErrno(_ kind: Kind, path: String, doing what: String) -> PcapError {
        PcapError(kind, path: path, "\(what) failed: \(String(cString: strerror(errno)))")
    }
}

/// A packet's capture time: seconds since the Unix epoch and nanoseconds.
public struct PcapTimestamp: Hashable, Comparable, Sendable {
    public var seconds: UInt32
    public var nanoseconds: UInt32

    public init(seconds: UInt32, nanoseconds: UInt32 = 0) {
        self.seconds = seconds; self.nanoseconds = nanoseconds
    }

    /// The wall-clock time now.
    public static func now() -> PcapTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return PcapTimestamp(seconds: UInt32(truncatingIfNeeded: ts.tv_sec), nanoseconds: UInt32(ts.tv_nsec))
    }

    public static func < (a: PcapTimestamp, b: PcapTimestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
}

/// One captured packet. `data` may be shorter than `originalLength` when the
/// capture was cut at the snap length.
public struct PcapRecord: Sendable {
    public var timestamp: PcapTimestamp
    public var data: [UInt8]
    public var originalLength: Int
}

/// Writes frames to a new classic pcap file (link type 1, Ethernet, by default).
/// Not thread-safe: one writer per thread.
public final class PcapWriter {
    public let path: String
    public let nanosecondResolution: Bool
    public let snapLength: Int
    private var file: UnsafeMutablePointer<FILE>?

    /// Creates (or truncates) `path` and writes the file header.
    public init(path: String, nanosecondResolution: Bool = false, snapLength: Int = 65535, linkType: UInt32 = 1) throws {
        self.path = path
        self.nanosecondResolution = nanosecondResolution
        self.snapLength = snapLength
        guard let f = fopen(path, "wb") else { throw PcapError.fromErrno(.open, path: path, doing: "open for writing") }
        file = f
        var h: [UInt8] = []
        h.reserveCapacity(24)
        putLE32(&h, nanosecondResolution ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        putLE16(&h, 2); putLE16(&h, 4)     // version 2.4
        putLE32(&h, 0); putLE32(&h, 0)     // thiszone, sigfigs
        putLE32(&h, UInt32(snapLength))
        putLE32(&h, linkType)
        try put(h)
    }

    deinit { if let file { fclose(file) } }

    /// Appends one frame, stamped `timestamp` or the current time. Frames longer
    /// than the snap length are cut, keeping their original length in the record.
    public func write(_ frame: [UInt8], timestamp: PcapTimestamp? = nil) throws {
        try frame.withUnsafeBytes { try write($0, timestamp: timestamp) }
    }

    public func write(_ frame: UnsafeRawBufferPointer, timestamp: PcapTimestamp? = nil) throws {
        let ts = timestamp ?? .now()
        let captured = min(frame.count, snapLength)
        var h: [UInt8] = []
        h.reserveCapacity(16)
        putLE32(&h, ts.seconds)
        putLE32(&h, nanosecondResolution ? ts.nanoseconds : ts.nanoseconds / 1000)
        putLE32(&h, UInt32(captured))
        putLE32(&h, UInt32(frame.count))
        try put(h)
        try put(UnsafeRawBufferPointer(rebasing: frame[0..<captured]))
    }

    /// Pushes buffered records to the file.
    public func flush() throws {
        guard let file else { throw PcapError(.closed, path: path, "flush after close") }
        if fflush(file) != 0 { throw PcapError.fromErrno(.write, path: path, doing: "flush") }
    }

    /// Flushes and closes the file; later writes throw. Closing twice is harmless.
    public func close() throws {
        guard let f = file else { return }
        file = nil
        if fclose(f) != 0 { throw PcapError.fromErrno(.close, path: path, doing: "close") }
    }

    private func put(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try put($0) }
    }

    private func put(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { throw PcapError(.closed, path: path, "write after close") }
        guard bytes.count > 0 else { return }
        if fwrite(bytes.baseAddress, 1, bytes.count, file) != bytes.count {
            throw PcapError.fromErrno(.write, path: path, doing: "write")
        }
    }
}

/// Reads classic pcap files: either byte order, micro- or nanosecond timestamps.
public enum PcapReader {
    /// What a file holds.
    public struct Contents: Sendable {
        public var linkType: UInt32
        public var nanosecondResolution: Bool
        public var snapLength: UInt32
        public var records: [PcapRecord]
    }

    /// The captured bytes of every frame in an Ethernet (link type 1) file.
    public static func readAll(path: String) throws -> [[UInt8]] {
        let c = try read(path: path)
        guard c.linkType == 1 else {
            throw PcapError(.notEthernet, path: path, "link type \(c.linkType), not 1 (Ethernet)")
        }
        return c.records.map(\.data)
    }

    /// Every record with its timestamp, whatever the link type.
    public static func read(path: String) throws -> Contents {
        guard let f = fopen(path, "rb") else { throw PcapError.fromErrno(.open, path: path, doing: "open for reading") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { bytes += chunk[0..<n] }
            if n < chunk.count {
                if ferror(f) != 0 { throw PcapError.fromErrno(.read, path: path, doing: "read") }
                break
            }
        }
        return try decode(bytes, path: path)
    }

    /// Decodes a whole pcap file held in memory; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> Contents {
        guard bytes.count >= 24 else {
            throw PcapError(.truncated, path: path, "\(bytes.count) bytes, shorter than the 24-byte file header")
        }
        let bigEndian: Bool, nano: Bool
        switch le32(bytes, 0) {
        case 0xA1B2_C3D4: bigEndian = false; nano = false
        case 0xA1B2_3C4D: bigEndian = false; nano = true
        case 0xD4C3_B2A1: bigEndian = true; nano = false
        case 0x4D3C_B2A1: bigEndian = true; nano = true
        case let m:
            throw PcapError(.badMagic, path: path, "magic 0x\(String(m, radix: 16)) is not a classic pcap file")
        }
        func u32(_ at: Int) -> UInt32 { bigEndian ? le32(bytes, at).byteSwapped : le32(bytes, at) }
        var c = Contents(linkType: u32(20) & 0x0FFF_FFFF, nanosecondResolution: nano, snapLength: u32(16), records: [])
        var at = 24
        while at < bytes.count {
            guard at + 16 <= bytes.count else {
                throw PcapError(.truncated, path: path, "record header at byte \(at) is cut short")
            }
            let captured = Int(u32(at + 8))
            guard captured <= 1 << 20 else {
                throw PcapError(.badRecord, path: path, "record at byte \(at) claims \(captured) bytes")
            }
            guard at + 16 + captured <= bytes.count else {
                throw PcapError(.truncated, path: path, "packet at byte \(at) is cut short")
            }
            let fraction = u32(at + 4)
            c.records.append(PcapRecord(
                timestamp: PcapTimestamp(seconds: u32(at), nanoseconds: nano ? fraction : fraction &* 1000),
                data: Array(bytes[(at + 16)..<(at + 16 + captured)]),
                originalLength: Int(u32(at + 12))))
            at += 16 + captured
        }
        return c
    }

    private static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}

private func putLE16(_ a: inout [UInt8], _ v: UInt16) { a += [UInt8(v & 0xFF), UInt8(v >> 8)] }
private func putLE32(_ a: inout [UInt8], _ v: UInt32) {
    a += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
}
