/// The `control` section of the config file: where gbpd serves `gbpctl` and Prometheus.
///
/// ```yaml
/// control:
///   socket: /run/gbpd/gbpd.sock   # Unix socket for gbpctl (mode 0600); the folder is created
///   metrics_port: 9469            # optional: Prometheus text on http://ADDRESS:PORT/metrics (0: any free port)
///   metrics_address: 127.0.0.1    # 127.0.0.1 (default) or ::1; nothing else is accepted
/// ```
///
/// Read when gbpd starts; a reload that changes it is applied to the policy and the new
/// control settings are ignored until the next restart (a warning says so).
public struct ControlSettings: Sendable, Equatable {
    public static let defaultSocketPath = ControlProtocol.defaultSocketPath
    /// The addresses the metrics port may be bound to: loopback only.
    public static let metricsAddresses = ["127.0.0.1", "::1"]

    public var socketPath: String = ControlSettings.defaultSocketPath
    /// nil: no metrics endpoint. 0: a free port chosen by the kernel (logged at startup).
    public var metricsPort: Int?
    public var metricsAddress: String = "127.0.0.1"

    public init(socketPath: String = ControlSettings.defaultSocketPath, metricsPort: Int? = nil, metricsAddress: String = "127.0.0.1") {
        self.socketPath = socketPath; self.metricsPort = metricsPort; self.metricsAddress = metricsAddress
    }
}
