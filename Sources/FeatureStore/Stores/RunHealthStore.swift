/// One run of the ledger as an operator checks it: what it reached, where it ran, why it ended
/// and where its log and report are.
public struct RunHealth: Sendable, Equatable {
    /// `danser.runs.status`.
    public enum Status: String, Sendable, CaseIterable {
        case running, succeeded, failed, skipped, interrupted, abandoned
    }

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
            let row = Row(result: result, index: index)
            let statusText = try row.text(3)
            guard let status = RunHealth.Status(rawValue: statusText) else {
                throw FeatureStoreError(.decodingFailed, "run \(try row.int64(0)) has the unknown status '\(statusText)'")
            }
            return RunHealth(
                runID: try row.int64(0), command: try row.text(1), asOfDay: try row.optionalDate(2), status: status,
                stage: try row.optionalText(4), host: try row.optionalText(5), pid: try row.optionalInt64(6).map { Int32(truncatingIfNeeded: $0) },
                attempts: Int(try row.int64(7)), startedMicros: try row.timestamp(8), finishedMicros: try row.optionalTimestamp(9),
                secondsSinceHeartbeat: try row.double(10), modelVersion: try row.optionalInt64(11), error: try row.optionalText(12),
                cause: try row.optionalText(13), reportPath: try row.optionalText(14), logPath: try row.optionalText(15))
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
        let row = Row(result: result, index: 0)
        return PublishedDayHealth(
            asOfDay: try row.date(0), modelVersion: try row.int64(1), sessions: try row.int64(2), rows: try row.optionalInt64(3),
            publishedMicros: try row.timestamp(4), secondsSinceAsOf: try row.double(5), secondsSincePublished: try row.double(6))
    }

    public func clickLog(on connection: Connection) throws -> ClickLogHealth {
        let result = try connection.query("SELECT count(*), max(event_time) FROM danser.click_log")
        let row = Row(result: result, index: 0)
        return ClickLogHealth(clicks: try row.int64(0), latestMicros: try row.optionalTimestamp(1))
    }

    /// The newest successful nightly run's end, in microseconds since 1970.
    public func lastSuccessMicros(command: String, on connection: Connection) throws -> Int64? {
        let result = try connection.query(
            "SELECT max(finished_at) FROM danser.runs WHERE command = $1 AND status = 'succeeded'", [.text(command)])
        return try Row(result: result, index: 0).optionalTimestamp(0)
    }

    /// Records the log file a run appends to.
    public func recordLogPath(runID: Int64, path: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET log_path = $2 WHERE run_id = $1", [.int64(runID), .text(path)])
    }
}

/// Typed, throwing access to one row: NULL where a value is required, or another type than
/// expected, names the column and fails.
private struct Row {
    let result: QueryResult
    let index: Int

    private func value(_ column: Int) throws -> PostgresValue { try result.value(index, column) }

    private func mismatch(_ column: Int, _ expected: String, _ value: PostgresValue) -> FeatureStoreError {
        FeatureStoreError(.decodingFailed, "column \(result.columnName(column)) of row \(index) is \(value.isNull ? "NULL" : "\(value)"), expected \(expected)")
    }

    func int64(_ column: Int) throws -> Int64 {
        let value = try value(column)
        guard let number = value.int64Value else { throw mismatch(column, "an integer", value) }
        return number
    }

    func optionalInt64(_ column: Int) throws -> Int64? { try value(column).isNull ? nil : try int64(column) }

    func double(_ column: Int) throws -> Double {
        let value = try value(column)
        guard let number = value.doubleValue else { throw mismatch(column, "a number", value) }
        return number
    }

    func text(_ column: Int) throws -> String {
        let value = try value(column)
        guard case .text(let text) = value else { throw mismatch(column, "text", value) }
        return text
    }

    func optionalText(_ column: Int) throws -> String? { try value(column).isNull ? nil : try text(column) }

    func date(_ column: Int) throws -> Int32 {
        let value = try value(column)
        guard case .date(let day) = value else { throw mismatch(column, "a date", value) }
        return day
    }

    func optionalDate(_ column: Int) throws -> Int32? { try value(column).isNull ? nil : try date(column) }

    func timestamp(_ column: Int) throws -> Int64 {
        let value = try value(column)
        guard let micros = value.timestampMicros else { throw mismatch(column, "a timestamp", value) }
        return micros
    }

    func optionalTimestamp(_ column: Int) throws -> Int64? { try value(column).isNull ? nil : try timestamp(column) }
}
