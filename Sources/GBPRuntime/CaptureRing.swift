import CDPDK
import GBPCore

/// Verdict capture: a worker copies the packets it should capture, with their
/// verdict, into its own single-producer/single-consumer ring of fixed slots; the
/// control thread drains the rings into a pcapng file. The worker never blocks and
/// never allocates: when its ring is full the packet is counted as not captured.
public struct CaptureRing {
    /// What a slot holds before the packet's bytes.
    @frozen
    public struct Header {
        public var tsc: UInt64
        public var originalLength: UInt32
        public var capturedLength: UInt16
        public var port: UInt16
        /// A port index (>= 0) the packet went to, or the pipeline's `Outcome` for drops and floods.
        public var outcome: Int32
        public var contract: UInt16
        public var reason: UInt8
        public var allowed: Bool
        public var rule: UInt32
        public var epoch: UInt32
    }

    public static let slotSize = 256
    public static var snapLength: Int { slotSize - MemoryLayout<Header>.stride }

    @usableFromInline let slots: UnsafeMutableRawPointer
    @usableFromInline let mask: UInt64
    /// [0] head (written by the worker), [8] tail (written by the control thread), [16] lost.
    @usableFromInline let indices: UnsafeMutablePointer<UInt64>

    public init(capacity: Int) {
        var n = 64
        while n < capacity { n <<= 1 }
        slots = .allocate(byteCount: n * Self.slotSize, alignment: 64)
        mask = UInt64(n - 1)
        indices = .allocate(capacity: 24)
        indices.initialize(repeating: 0, count: 24)
    }

    public func deallocate() { slots.deallocate(); indices.deallocate() }

    /// Worker side: copies `data[0..<length]` (cut to the snap length) with its header.
    @inlinable @inline(__always)
    func push(_ data: UnsafeRawPointer, length: Int, header: Header) {
        let head = indices[0]
        if head &- cdpdk_load_acquire_u64(indices + 8) > mask { indices[16] &+= 1; return }
        let slot = slots + Int(head & mask) * Self.slotSize
        var h = header
        h.capturedLength = UInt16(min(length, Self.snapLength))
        slot.storeBytes(of: h, as: Header.self)
        (slot + MemoryLayout<Header>.stride).copyMemory(from: data, byteCount: Int(h.capturedLength))
        cdpdk_store_release_u64(indices, head &+ 1)
    }

    /// Control side: hands every waiting record to `body`, then frees their slots.
    public func drain(_ body: (Header, UnsafeRawBufferPointer) -> Void) {
        let tail = indices[8]
        let head = cdpdk_load_acquire_u64(indices)
        var i = tail
        while i != head {
            let slot = slots + Int(i & mask) * Self.slotSize
            let h = slot.load(as: Header.self)
            body(h, UnsafeRawBufferPointer(start: slot + MemoryLayout<Header>.stride, count: Int(h.capturedLength)))
            i &+= 1
        }
        cdpdk_store_release_u64(indices + 8, head)
    }

    /// Packets that found the ring full.
    public var lost: UInt64 { indices[16] }
}
