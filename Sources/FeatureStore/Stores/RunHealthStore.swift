/// One run of the ledger as an operator checks it: what it reached, where it ran, why it ended
/// and where its log and report are.
public struct RunHealth: Sendable, Equatable {
    /// `danser.runs.status`.
    public typealias Status = RunStatus

    public var runID: Int64
    public var command: String
    public var asOfDay: Int32?
    public var status: Status
    public var stage: String?
    public var host: String?
    public var pid: Int32?
    public var attempts: Int
    public var startedMicros: Int64
    public var finishedMicros: Int64?
    /// Seconds since the last heartbeat (or the start), by the server's clock.
    public var secondsSinceHeartbeat: Double
    public var modelVersion: Int64?
    /// The whole error, as recorded.
    public var error: String?
    /// The last transient failure seen.
    public var cause: String?
    public var reportPath: String?
    public var logPath: String?
}

/// The newest published day of recommendations.
public struct PublishedDayHealth: Sendable, Equatable {
    public var asOfDay: Int32
    public var modelVersion: Int64
    public var sessions: Int64
    /// Rows of the day; nil for days published before the count was kept (migration 0009).
    public var rows: Int64?
    public var publishedMicros: Int64
    /// Seconds from the start of the as-of day (UTC midnight) to now, by the server's clock.
    public var secondsSinceAsOf: Double
    /// Seconds from its publication to now.
    public var secondsSincePublished: Double
}

/// The click log at a glance.
public struct ClickLogHealth: Sendable, Equatable {
    public var clicks: Int64
    public var latestMicros: Int64?
}

/// What `danser-batch status` reads, with typed decoding: a column that is NULL where it may
/// not be, or of another type, is an error, never a silent zero. Reads only (except
/// `recordLogPath`, which the job calls), so a `danser_bi`-like reader can run it.
public struct RunHealthStore: Sendable {
    public init() {}

    /// The newest `limit` runs of every command, newest first.
    public func recentRuns(limit: Int, on connection: Connection) throws -> [RunHealth] {
        let result = try connection.query("""
            SELECT run_id, command, as_of, status, stage, host, pid, attempts, started_at, finished_at,
                   extract(epoch FROM now() - coalesce(heartbeat_at, started_at))::float8,
                   model_version, error, cause, report_path, log_path
            FROM danser.runs ORDER BY run_id DESC LIMIT $1
            """, [.int64(Int64(limit))])
        return try (0..<result.rowCount).map { index in
            let status = try result.decode(index, 3, as: RunStatus.self)
            return RunHealth(
                runID: try result.int64(index, 0), command: try result.text(index, 1), asOfDay: try result.optionalDate(index, 2), status: status,
                stage: try result.optionalText(index, 4), host: try result.optionalText(index, 5), pid: try result.optionalInt64(index, 6).map { Int32(truncatingIfNeeded: $0) },
                attempts: Int(try result.int64(index, 7)), startedMicros: try result.timestamp(index, 8), finishedMicros: try result.optionalTimestamp(index, 9),
                secondsSinceHeartbeat: try result.double(index, 10), modelVersion: try result.optionalInt64(index, 11), error: try result.optionalText(index, 12),
                cause: try result.optionalText(index, 13), reportPath: try result.optionalText(index, 14), logPath: try result.optionalText(index, 15))
        }
    }

    /// The newest published day (by as-of), or nil when none was ever published.
    public func newestPublishedDay(on connection: Connection) throws -> PublishedDayHealth? {
        let result = try connection.query("""
            SELECT as_of, model_version, sessions, row_count, published_at,
                   extract(epoch FROM now() - (as_of::timestamp AT TIME ZONE 'UTC'))::float8,
                   extract(epoch FROM now() - published_at)::float8
            FROM danser.published_recommendations ORDER BY as_of DESC LIMIT 1
            """)
        guard result.rowCount > 0 else { return nil }
        return PublishedDayHealth(
            asOfDay: try result.date(0, 0), modelVersion: try result.int64(0, 1), sessions: try result.int64(0, 2), rows: try result.optionalInt64(0, 3),
            publishedMicros: try result.timestamp(0, 4), secondsSinceAsOf: try result.double(0, 5), secondsSincePublished: try result.double(0, 6))
    }

    public func clickLog(on connection: Connection) throws -> ClickLogHealth {
        let result = try connection.query("SELECT count(*), max(event_time) FROM danser.click_log")
        return ClickLogHealth(clicks: try result.int64(0, 0), latestMicros: try result.optionalTimestamp(0, 1))
    }

    /// The newest successful nightly run's end, in microseconds since 1970.
    public func lastSuccessMicros(command: String, on connection: Connection) throws -> Int64? {
        let result = try connection.query(
            "SELECT max(finished_at) FROM danser.runs WHERE command = $1 AND status = 'succeeded'", [.text(command)])
        return try result.optionalTimestamp(0, 0)
    }

    /// Records the log file a run appends to.
    public func recordLogPath(runID: Int64, path: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET log_path = $2 WHERE run_id = $1", [.int64(runID), .text(path)])
    }
}
