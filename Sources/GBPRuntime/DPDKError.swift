import CDPDK

/// A failed DPDK call: what was being done, the errno DPDK reported and its text.
public struct DPDKError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var code: Int32
    public var detail: String

    public init(_ operation: String, code: Int32, detail: String? = nil) {
        self.operation = operation
        self.code = code
        self.detail = detail ?? String(cString: rte_strerror(code < 0 ? -code : code))
    }

    /// An error for the call that just failed, read from `rte_errno`.
    static func fromErrno(_ operation: String) -> DPDKError {
        DPDKError(operation, code: cdpdk_errno())
    }

    public var description: String { "\(operation): \(detail) (errno \(abs(code)))" }
}
