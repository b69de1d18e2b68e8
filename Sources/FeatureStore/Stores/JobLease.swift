internal import Foundation

/// Who holds (or held) the job lease: a row of `danser.job_lease`.
public struct LeaseHolder: Sendable, CustomStringConvertible {
    public var holderID: Int64
    public var scope: String
    public var shareKey: String?
    public var purpose: String
    public var runID: Int64?
    public var host: String
    public var pid: Int32
    /// UTC, "YYYY-MM-DD HH:MM:SS".
    public var since: String
    public var expires: String
    /// True when the expiry is past.
    public var expired: Bool

    /// "run 12 (nightly 2026-11-28) on host db1, pid 4242, since 2026-11-29 02:15:03 UTC".
    public var description: String {
        "run \(runID.map(String.init) ?? "-") (\(purpose)) on host \(host), pid \(pid), since \(since) UTC"
    }
}

/// The job lease (`danser.job_lease`, migration 0007): the lock of the job, as rows that only
/// the job role can write (an advisory lock can be taken by any login). Exclusive holders
/// conflict with every other holder; shared holders conflict with holders of another share
/// key (the shards of one day's set run side by side, never beside a nightly). A holder keeps
/// its row alive with `heartbeat`; an expired row, or one left by a process that is gone from
/// this host, is taken over.
public final class JobLease: Sendable {
    public enum Scope: Sendable, Equatable {
        case exclusive
        case shared(key: String)
    }

    /// What a run asks for.
    public struct Claim: Sendable {
        public var scope: Scope
        public var purpose: String
        public init(_ scope: Scope, purpose: String) {
            self.scope = scope
            self.purpose = purpose
        }
    }

    public enum Outcome: Sendable {
        case acquired(JobLease)
        case held(by: [LeaseHolder])
    }

    public let holderID: Int64
    public let claim: Claim
    /// Seconds without a heartbeat after which others may take the lease over.
    public let expirySeconds: Double

    init(holderID: Int64, claim: Claim, expirySeconds: Double) {
        self.holderID = holderID
        self.claim = claim
        self.expirySeconds = expirySeconds
    }

    /// Takes the lease if no conflicting live holder has it; never waits for one. Rows of
    /// expired holders, and of processes of `host` that `isAlive` says are gone, are removed
    /// first (returned in `takenOver` of the log). One short transaction.
    public static func tryAcquire(
        _ claim: Claim, runID: Int64?, host: String, pid: Int32, expirySeconds: Double,
        isAlive: (Int32) -> Bool, on connection: Connection
    ) throws -> (outcome: Outcome, takenOver: [LeaseHolder]) {
        try connection.withTransaction { connection in
            try connection.query("SET LOCAL lock_timeout = '30s'")
            // Serialises takers; readers of the table are not blocked.
            try connection.query("LOCK TABLE danser.job_lease IN SHARE ROW EXCLUSIVE MODE")
            var takenOver: [LeaseHolder] = []
            var live: [LeaseHolder] = []
            for holder in try holders(on: connection) {
                let gone = holder.host == host && (holder.pid == pid || !isAlive(holder.pid))
                if gone || (holder.expired && !(holder.host == host && isAlive(holder.pid))) {
                    takenOver.append(holder)
                    try connection.query("DELETE FROM danser.job_lease WHERE holder_id = $1", [.int64(holder.holderID)])
                } else {
                    live.append(holder)
                }
            }
            let conflicting = live.filter { holder in
                switch claim.scope {
                case .exclusive: return true
                // Two copies of one shard never run side by side either.
                case .shared(let key): return holder.scope != "shared" || holder.shareKey != key || holder.purpose == claim.purpose
                }
            }
            if !conflicting.isEmpty { return (.held(by: conflicting), takenOver) }
            var (scopeName, shareKey): (String, PostgresValue) = ("exclusive", .null)
            if case .shared(let key) = claim.scope { (scopeName, shareKey) = ("shared", .text(key)) }
            let id = try connection.query(
                """
                INSERT INTO danser.job_lease (scope, share_key, purpose, run_id, host, pid, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING holder_id
                """,
                [.text(scopeName), shareKey, .text(claim.purpose), runID.map { .int64($0) } ?? .null,
                 .text(host), .int32(pid), .float8(expirySeconds)]
            ).scalar()?.int64Value
            guard let id else { throw FeatureStoreError(.decodingFailed, "the job lease returned no holder id") }
            return (.acquired(JobLease(holderID: id, claim: claim, expirySeconds: expirySeconds)), takenOver)
        }
    }

    /// Every holder, oldest first.
    public static func holders(on connection: Connection) throws -> [LeaseHolder] {
        let result = try connection.query("""
            SELECT holder_id, scope, share_key, purpose, run_id, host, pid,
                   to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                   expires_at < now()
            FROM danser.job_lease ORDER BY holder_id
            """)
        return try (0..<result.rowCount).map { row in
            LeaseHolder(
                holderID: try result.int64(row, 0), scope: try result.text(row, 1), shareKey: try result.optionalText(row, 2),
                purpose: try result.text(row, 3), runID: try result.optionalInt64(row, 4), host: try result.text(row, 5),
                pid: Int32(truncatingIfNeeded: try result.int64(row, 6)), since: try result.text(row, 7), expires: try result.text(row, 8),
                expired: try result.bool(row, 9))
        }
    }

    /// Extends the expiry and names the run; false when the row is gone (taken over after an
    /// outage longer than the expiry): the lease is no longer held.
    @discardableResult
    public func heartbeat(runID: Int64?, on connection: Connection) throws -> Bool {
        try connection.query(
            "UPDATE danser.job_lease SET heartbeat_at = now(), expires_at = now() + make_interval(secs => $2), run_id = coalesce($3, run_id) WHERE holder_id = $1",
            [.int64(holderID), .float8(expirySeconds), runID.map { .int64($0) } ?? .null]
        ).affectedRows == 1
    }

    /// Gives the lease up.
    public func release(on connection: Connection) throws {
        try connection.query("DELETE FROM danser.job_lease WHERE holder_id = $1", [.int64(holderID)])
    }

    /// True while this holder's row exists.
    public func isHeld(on connection: Connection) throws -> Bool {
        try connection.query("SELECT count(*) FROM danser.job_lease WHERE holder_id = $1", [.int64(holderID)])
            .requiredScalar(QueryResult.int64, "looking for the lease") == 1
    }
}
