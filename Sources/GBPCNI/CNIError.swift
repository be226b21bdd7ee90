import Foundation

/// A CNI error object (CNI specification, "Error"): printed on standard output as
/// `{"cniVersion", "code", "msg", "details"}` and the plugin exits non-zero.
/// Codes 1-99 are the specification's; 100 and up are gbp-cni's own.
public struct CNIError: Error, Equatable, CustomStringConvertible {
    public var code: Int
    public var msg: String
    public var details: String

    public init(_ code: Code, _ msg: String, details: String = "") {
        self.init(code: code.rawValue, msg: msg, details: details)
    }

    public init(code: Int, msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public enum Code: Int, Sendable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodeFailure = 6
        case invalidNetworkConfig = 7
        case tryAgainLater = 11
        /// gbpd refused the port or endpoint (its reasons are in `details`).
        case gbpdRefused = 100
        /// Creating or configuring the veth, addresses or routes failed.
        case interfaceSetup = 101
        /// CHECK found the attachment not as ADD left it.
        case checkFailed = 102
        /// The IPAM plugin failed without a CNI error of its own.
        case ipamFailure = 103
    }

    public var description: String { details.isEmpty ? "gbp-cni: \(msg)" : "gbp-cni: \(msg): \(details)" }

    /// The error object for `cniVersion` (the config's version, or the newest supported
    /// when the config could not be read).
    public func json(cniVersion: String) -> [String: Any] {
        var o: [String: Any] = ["cniVersion": cniVersion, "code": code, "msg": msg]
        if !details.isEmpty { o["details"] = details }
        return o
    }
}
