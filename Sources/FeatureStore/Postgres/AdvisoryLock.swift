public import Logging

/// A session-level advisory lock held on its own dedicated connection, so that no pooled or
/// reconnecting connection can drop it by accident. Released by `release()` or on deinit.
public final class AdvisoryLock {
    public let key: Int64
    private var connection: Connection?

    private init(key: Int64, connection: Connection) {
        self.key = key
        self.connection = connection
    }

    deinit { release() }

    /// A stable 64-bit key for a lock name (first 8 bytes of its SHA-256).
    public static func key(for name: String) -> Int64 {
        let digest = SHA256.hash(Array(name.utf8))
        return digest.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }

    /// Takes the lock if free; nil when another session holds it. Never waits.
    public static func tryAcquire(
        _ name: String, configuration: ConnectionConfiguration, logger: Logger = Logger(label: "danser.lock")
    ) throws -> AdvisoryLock? {
        let key = key(for: name)
        var dedicated = configuration
        dedicated.applicationName = "\(configuration.applicationName) lock"
        let connection = try Connection(dedicated, logger: logger)
        let taken = try connection.query("SELECT pg_try_advisory_lock($1)", [.int64(key)]).requiredScalar(QueryResult.bool, "taking an advisory lock")
        guard taken else { return nil }
        logger.info("advisory lock taken", metadata: ["lock": "\(name)", "key": "\(key)"])
        return AdvisoryLock(key: key, connection: connection)
    }

    /// True while the dedicated connection is up (the server holds the lock as long as it is).
    public var isHeld: Bool { connection?.isAlive ?? false }

    /// Unlocks and closes the dedicated connection.
    public func release() {
        guard let connection else { return }
        if connection.isAlive { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [.int64(key)]) }
        self.connection = nil
    }
}
