/// Reachability matrices in the style of Kubernetes' e2e network policy suite, written as
/// comments in a manifest file:
///
///     # expect tcp/80 udp/80
///     #      x/a x/b
///     # x/a   X   .
///     # x/b   X   X
///
/// Rows are sources, columns destinations; `X` connected, `.` blocked. One block per set
/// of traffic kinds (`tcp/80`, `udp/81`, `sctp/80`) that share a matrix.
public struct KubernetesTruthTable: Sendable, Equatable {
    /// Traffic kind -> (source, destination) -> connected.
    public var expected: [String: [Pair: Bool]] = [:]
    /// Pods in the order of the first block's header.
    public var pods: [String] = []

    public struct Pair: Hashable, Sendable {
        public var from: String
        public var to: String
        public init(_ from: String, _ to: String) { self.from = from; self.to = to }
    }

    public init() {}

    public static func parse(_ text: String) -> Result<KubernetesTruthTable, TruthTableError> {
        var t = KubernetesTruthTable()
        var traffic: [String] = []
        var columns: [String]?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard raw.hasPrefix("#") else { continue }
            let words = raw.dropFirst().split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            if first == "expect" {
                traffic = Array(words.dropFirst()); columns = nil
                if traffic.isEmpty { return .failure(.init(line: n + 1, "expect needs traffic kinds (tcp/80 ...)")) }
                for k in traffic where t.expected[k] != nil { return .failure(.init(line: n + 1, "\(k) has two tables")) }
            } else if !traffic.isEmpty && columns == nil {
                columns = words
                if t.pods.isEmpty { t.pods = words }
            } else if let cols = columns, words.count == cols.count + 1, words.dropFirst().allSatisfy({ $0 == "X" || $0 == "." }) {
                for (c, mark) in zip(cols, words.dropFirst()) {
                    for k in traffic { t.expected[k, default: [:]][Pair(first, c)] = mark == "X" }
                }
            } else if columns != nil {
                traffic = []; columns = nil   // the table ended: the rest is prose
            }
        }
        if t.expected.isEmpty { return .failure(.init(line: 0, "no '# expect' table")) }
        return .success(t)
    }

    /// A matrix as the e2e suite prints it, for failure messages.
    public static func render(pods: [String], _ connected: (String, String) -> Bool) -> String {
        var lines = ["     " + pods.joined(separator: " ")]
        for s in pods { lines.append("\(s)   " + pods.map { connected(s, $0) ? "X" : "." }.joined(separator: "   ")) }
        return lines.joined(separator: "\n")
    }

    /// "tcp/80" -> (TCP, 80).
    public static func traffic(_ kind: String) -> (KubernetesProtocol, Int)? {
        let parts = kind.split(separator: "/")
        guard parts.count == 2, let proto = KubernetesProtocol(rawValue: parts[0].uppercased()), let port = Int(parts[1]) else { return nil }
        return (proto, port)
    }
}

public struct TruthTableError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    init(line: Int, _ reason: String) { self.line = line; self.reason = reason }
    public var description: String { "line \(line): \(reason)" }
}
