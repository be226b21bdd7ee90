import GBPCore

/// A worker's own policy state: its connection table, its remembered denials and its fragment table.
/// Single-threaded, allocated before launch, kept across policy swaps (flows are
/// stamped with the epoch that admitted them).
public struct WorkerPolicyState {
    public var flows: FlowTable
    public var denials: DenialCache
    public var fragments: FragmentTable
    /// Verdict capture (nil: off), and whether allowed packets are captured too.
    public var capture: CaptureRing?
    public var captureAll = false
    /// Flow log: packets of rules marked `log: true` (and, with `logDenied`, every
    /// packet the policy drops) go here for the control thread to log, rate-limited.
    public var flowLog: CaptureRing?
    public var logDenied = false
    /// Most packets of the last tracked burst missed conntrack (new flows): the pipeline
    /// then skips the established fast path for the next burst and prefetches what new
    /// connections need (their slots, their rule lines).
    var newFlowHeavy = false

    /// Per-burst scratch of the staged pipeline.
    let scratch: BurstScratch

    public init(flowCapacity: Int, tenantBudget: Double = 1, timeouts: ConntrackTimeouts, tscHz: UInt64, burst: Int = 32) {
        flows = FlowTable(capacity: flowCapacity, ticksPerSecond: tscHz, timeouts: timeouts,
                          tenantLimit: FlowTable.tenantLimit(capacity: flowCapacity, share: tenantBudget))
        denials = DenialCache()
        fragments = FragmentTable(capacity: 4096, lifetime: tscHz * 2)
        scratch = BurstScratch(burst: burst)
    }
}

/// Arrays for one burst, allocated once per worker: parsed fields and notes per
/// packet; keys, fields and verdicts of the packets that go to connection tracking.
struct BurstScratch {
    let fields: UnsafeMutablePointer<PacketFields>
    let notes: UnsafeMutablePointer<VerdictNote>
    let keys: UnsafeMutablePointer<FlowKey>
    let trackedFields: UnsafeMutablePointer<PacketFields>
    let verdicts: UnsafeMutablePointer<Verdict>
    /// Per packet of the burst: the endpoints (or none) its source and destination
    /// addresses resolve to, looked up once for the whole burst.
    let sources: UnsafeMutablePointer<GroupMatch>
    let destinations: UnsafeMutablePointer<GroupMatch>
    /// Per packet: the home slot of its connection in the flow table (-1: none), for the
    /// established fast path and for conntrack.
    let homes: UnsafeMutablePointer<Int>
    /// Per packet: `shaped` when stage 1 only peeked at a frame of the common shape
    /// (`shapes` holds what it read) and `fields` is filled only if the fast path leaves it.
    let shapes: UnsafeMutablePointer<CommonShape>
    let shaped: UnsafeMutablePointer<Bool>
    /// Per tracked packet: the slot of its connection when conntrack found it the common
    /// way (-1 otherwise), where the pipeline remembers its endpoints for the fast path.
    let hitSlots: UnsafeMutablePointer<Int32>
    /// Per tracked packet: its home slot and what its addresses resolved to (stage 1 and
    /// stage 2), so that conntrack neither hashes nor looks them up again.
    let trackedHomes: UnsafeMutablePointer<Int>
    let trackedSources: UnsafeMutablePointer<GroupMatch>
    let trackedDestinations: UnsafeMutablePointer<GroupMatch>

    init(burst: Int) {
        fields = .allocate(capacity: burst)
        fields.initialize(repeating: PacketFields(), count: burst)
        notes = .allocate(capacity: burst)
        notes.initialize(repeating: VerdictNote(), count: burst)
        keys = .allocate(capacity: burst)
        keys.initialize(repeating: FlowKey(src: .zero, dst: .zero, srcPort: 0, dstPort: 0, proto: 0, tenant: 0), count: burst)
        trackedFields = .allocate(capacity: burst)
        trackedFields.initialize(repeating: PacketFields(), count: burst)
        verdicts = .allocate(capacity: burst)
        verdicts.initialize(repeating: Verdict(allowed: false, reason: nil), count: burst)
        sources = .allocate(capacity: burst)
        sources.initialize(repeating: GroupMatch.noMatch, count: burst)
        destinations = .allocate(capacity: burst)
        destinations.initialize(repeating: GroupMatch.noMatch, count: burst)
        homes = .allocate(capacity: burst)
        homes.initialize(repeating: -1, count: burst)
        shapes = .allocate(capacity: burst)
        shapes.initialize(repeating: CommonShape(dstMAC: .zero, srcMAC: .zero, src: 0, dst: 0, srcPort: 0, dstPort: 0, proto: 0,
                                                 tcpFlags: 0), count: burst)
        shaped = .allocate(capacity: burst)
        shaped.initialize(repeating: false, count: burst)
        hitSlots = .allocate(capacity: burst)
        hitSlots.initialize(repeating: -1, count: burst)
        trackedHomes = .allocate(capacity: burst)
        trackedHomes.initialize(repeating: -1, count: burst)
        trackedSources = .allocate(capacity: burst)
        trackedSources.initialize(repeating: GroupMatch.noMatch, count: burst)
        trackedDestinations = .allocate(capacity: burst)
        trackedDestinations.initialize(repeating: GroupMatch.noMatch, count: burst)
    }
}
