/// The one place a policy change is applied (config reload and control socket alike):
/// compiles the new spec under the next epoch and swaps it in only when it is valid.
/// Not thread-safe: owned by the control thread, which publishes `current` to workers.
public struct PolicyUpdater {
    public private(set) var current: CompiledPolicy?
    public private(set) var spec: PolicySpec?
    public private(set) var names: PolicyNames?
    /// The epoch of `current` (0 before the first policy).
    public private(set) var epoch: UInt32 = 0

    public init() {}

    /// On success the new snapshot is `current` and the one it replaced is returned, to be
    /// deallocated once no worker can read it. On failure nothing changes.
    public mutating func apply(_ newSpec: PolicySpec) -> Result<CompiledPolicy?, PolicyRejection> {
        let next = epoch &+ 1 == 0 ? 1 : epoch &+ 1
        let compiled: CompiledPolicy
        do {
            compiled = try CompiledPolicy.compile(newSpec, epoch: next)
        } catch {
            return .failure(error)
        }
        let old = current
        current = compiled
        spec = newSpec
        names = PolicyNames(newSpec)
        epoch = next
        return .success(old)
    }
}
