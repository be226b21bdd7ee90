extension LabelSelector {
    /// Kubernetes' label selector semantics: every `matchLabels` pair is present with
    /// that value; `In` needs the key with one of the values; `NotIn` holds when the key
    /// is absent or has none of them; `Exists` / `DoesNotExist` test the key alone.
    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels where labels[k] != v { return false }
        for r in matchExpressions {
            let value = labels[r.key]
            switch r.op {
            case .in: guard let value, r.values.contains(value) else { return false }
            case .notIn: if let value, r.values.contains(value) { return false }
            case .exists: if value == nil { return false }
            case .doesNotExist: if value != nil { return false }
            }
        }
        return true
    }

    public var isEmpty: Bool { matchLabels.isEmpty && matchExpressions.isEmpty }
}
