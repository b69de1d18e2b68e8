/// How a run stands in the ledger (`danser.runs.status`).
public enum RunStatus: String, Sendable, CaseIterable, CustomStringConvertible {
    case running, succeeded, failed, skipped, interrupted, abandoned

    public var description: String { rawValue }
}

/// One row of the run ledger.
public struct RunRecord: Sendable {
    public var runID: Int64
    public var command: String
    public var asOfDay: Int32?
    public var status: RunStatus
    public var startedMicros: Int64
    public var finishedMicros: Int64?
    public var modelVersion: Int64?
    public var rowCountsJSON: String
    public var timingsJSON: String
    public var metricsJSON: String
    public var error: String?
    public var reportPath: String?
}

/// The run ledger (`danser.runs`): a row per run, opened at the start and closed at the end.
public struct RunLedger: Sendable {
    public init() {}

    public func start(command: String, asOfDay: Int32?, host: String, pid: Int32, on connection: Connection) throws -> Int64 {
        let result = try connection.query(
            "INSERT INTO danser.runs (command, as_of, status, host, pid, heartbeat_at, stage) VALUES ($1, $2, 'running', $3, $4, now(), 'start') RETURNING run_id",
            [.text(command), asOfDay.map { .date($0) } ?? .null, .text(host), .int32(pid)])
        return try result.requiredScalar(QueryResult.int64, "opening a run in the ledger")
    }

    /// Closes a run with its outcome (and the stage it ended in, when given). The report's path
    /// is recorded apart, by `recordReportPath`, once the report exists.
    public func finish(
        runID: Int64, status: RunStatus, modelVersion: Int64?, rowCountsJSON: String, timingsJSON: String, metricsJSON: String,
        error: String?, stage: String? = nil, on connection: Connection
    ) throws {
        try connection.query("""
            UPDATE danser.runs SET status = $2, finished_at = now(), model_version = $3, row_counts = $4, timings = $5,
                metrics = $6, error = $7, stage = coalesce($8, stage), heartbeat_at = now()
            WHERE run_id = $1
            """,
            [.int64(runID), .text(status.rawValue), modelVersion.map { .int64($0) } ?? .null, .jsonb(rowCountsJSON), .jsonb(timingsJSON),
             .jsonb(metricsJSON), .optionalText(error), .optionalText(stage)])
    }

    /// Records the path of a run's HTML report: the one writer of `runs.report_path`.
    public func recordReportPath(runID: Int64, path: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET report_path = $2 WHERE run_id = $1", [.int64(runID), .text(path)])
    }

    /// Closes a run that a signal stopped, if it is still running: `interrupted`, with the stage
    /// it was in and the reason.
    public func markInterrupted(runID: Int64, stage: String?, reason: String, on connection: Connection) throws {
        try connection.query(
            "UPDATE danser.runs SET status = 'interrupted', finished_at = now(), stage = coalesce($2, stage), error = $3 WHERE run_id = $1 AND status = 'running'",
            [.int64(runID), .optionalText(stage), .text(reason)])
    }

    /// A sign of life of a running run, with the stage it is in. False when the row is no
    /// longer running (another command closed it as abandoned during an outage).
    @discardableResult
    public func heartbeat(runID: Int64, stage: String?, on connection: Connection) throws -> Bool {
        try connection.query(
            "UPDATE danser.runs SET heartbeat_at = now(), stage = coalesce($2, stage) WHERE run_id = $1 AND status = 'running'",
            [.int64(runID), .optionalText(stage)]).affectedRows == 1
    }

    /// Records the last transient failure a run saw (kept if the process dies before it ends).
    public func noteCause(runID: Int64, cause: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET cause = $2 WHERE run_id = $1", [.int64(runID), .text(cause)])
    }

    /// The same run again after a transient failure: running, one more attempt, the cause kept.
    public func reopen(runID: Int64, cause: String?, on connection: Connection) throws {
        try connection.query("""
            UPDATE danser.runs SET status = 'running', finished_at = NULL, error = NULL, attempts = attempts + 1,
                cause = coalesce($2, cause), heartbeat_at = now()
            WHERE run_id = $1
            """, [.int64(runID), .optionalText(cause)])
    }

    /// A run still marked running whose process is gone.
    public struct Abandoned: Sendable {
        public var runID: Int64
        public var command: String
        public var stage: String?
        public var cause: String?
    }

    /// Marks `abandoned` every running run whose process is gone: on `host` with a pid that
    /// `isAlive` denies, or (elsewhere) with no heartbeat for `expirySeconds`. The error names
    /// the last stage and the last failure seen. `excluding` is this process's own run.
    @discardableResult
    public func closeAbandoned(
        host: String, pid: Int32, isAlive: (Int32) -> Bool, expirySeconds: Double, on connection: Connection
    ) throws -> [Abandoned] {
        let result = try connection.query("""
            SELECT run_id, command, stage, cause, host, pid,
                   coalesce(heartbeat_at, started_at) < now() - make_interval(secs => $1),
                   to_char(coalesce(heartbeat_at, started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
            FROM danser.runs WHERE status = 'running' ORDER BY run_id
            """, [.float8(expirySeconds)])
        var closed: [Abandoned] = []
        for row in 0..<result.rowCount {
            let runID = try result.int64(row, 0)
            let runHost = try result.optionalText(row, 4)
            // A run without a pid (recorded before pids were) can only be judged by its heartbeat.
            let runPID = try result.optionalInt64(row, 5).map { Int32(truncatingIfNeeded: $0) }
            let stale = try result.bool(row, 6)
            let sameHost = runHost == host && runPID != nil
            if sameHost && runPID == pid { continue }
            let gone = sameHost ? !isAlive(runPID ?? 0) : stale
            guard gone else { continue }
            let run = Abandoned(
                runID: runID, command: try result.text(row, 1), stage: try result.optionalText(row, 2), cause: try result.optionalText(row, 3))
            let lastSign = try result.text(row, 7)
            var message = sameHost
                ? "abandoned: process \(runPID ?? 0) on \(runHost ?? "?") is gone (last heartbeat \(lastSign) UTC)"
                : "abandoned: no heartbeat from \(runHost ?? "?") since \(lastSign) UTC"
            message += "; last stage \(run.stage ?? "unknown")"
            if let cause = run.cause { message += "; last failure seen: \(cause)" }
            let updated = try connection.query(
                "UPDATE danser.runs SET status = 'abandoned', finished_at = now(), error = $2 WHERE run_id = $1 AND status = 'running'",
                [.int64(runID), .text(message)]).affectedRows
            if updated == 1 { closed.append(run) }
        }
        return closed
    }

    /// Records the stage a run has reached (where it stopped, if it never finishes).
    public func recordStage(runID: Int64, stage: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET stage = $2 WHERE run_id = $1", [.int64(runID), .text(stage)])
    }

    /// Records the results of the stages a run finished, by stage name.
    public func recordStageResults(runID: Int64, resultsJSON: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.runs SET stage_results = $2 WHERE run_id = $1", [.int64(runID), .jsonb(resultsJSON)])
    }

    /// Records a run that did nothing (e.g. the lock was held) as one closed row.
    @discardableResult
    public func recordSkipped(command: String, asOfDay: Int32?, reason: String, host: String, pid: Int32, on connection: Connection) throws -> Int64 {
        let result = try connection.query(
            "INSERT INTO danser.runs (command, as_of, status, finished_at, error, host, pid) VALUES ($1, $2, 'skipped', now(), $3, $4, $5) RETURNING run_id",
            [.text(command), asOfDay.map { .date($0) } ?? .null, .text(reason), .text(host), .int32(pid)])
        return try result.requiredScalar(QueryResult.int64, "recording a skipped run")
    }

    public func lastSucceeded(command: String, asOfDay: Int32, on connection: Connection) throws -> RunRecord? {
        try records("WHERE command = $1 AND as_of = $2 AND status = 'succeeded' ORDER BY run_id DESC LIMIT 1", [.text(command), .date(asOfDay)], on: connection).first
    }

    public func lastStatus(command: String, asOfDay: Int32, on connection: Connection) throws -> RunStatus? {
        try records("WHERE command = $1 AND as_of = $2 AND status <> 'skipped' ORDER BY run_id DESC LIMIT 1", [.text(command), .date(asOfDay)], on: connection).first?.status
    }

    /// Newest first.
    public func recent(command: String? = nil, limit: Int = 30, on connection: Connection) throws -> [RunRecord] {
        if let command {
            return try records("WHERE command = $1 ORDER BY run_id DESC LIMIT $2", [.text(command), .int64(Int64(limit))], on: connection)
        }
        return try records("ORDER BY run_id DESC LIMIT $1", [.int64(Int64(limit))], on: connection)
    }

    public func lastSuccessMicros(command: String, on connection: Connection) throws -> Int64? {
        try connection.query("SELECT max(finished_at) FROM danser.runs WHERE command = $1 AND status = 'succeeded'", [.text(command)])
            .requiredScalar(QueryResult.optionalTimestamp, "the last success")
    }

    private func records(_ tail: String, _ parameters: [PostgresValue], on connection: Connection) throws -> [RunRecord] {
        let result = try connection.query(
            "SELECT run_id, command, as_of, status, started_at, finished_at, model_version, row_counts, timings, metrics, error, report_path FROM danser.runs " + tail,
            parameters)
        return try (0..<result.rowCount).map { row in
            RunRecord(
                runID: try result.int64(row, 0), command: try result.text(row, 1), asOfDay: try result.optionalDate(row, 2),
                status: try result.decode(row, 3), startedMicros: try result.timestamp(row, 4), finishedMicros: try result.optionalTimestamp(row, 5),
                modelVersion: try result.optionalInt64(row, 6), rowCountsJSON: try result.text(row, 7), timingsJSON: try result.text(row, 8),
                metricsJSON: try result.text(row, 9), error: try result.optionalText(row, 10), reportPath: try result.optionalText(row, 11))
        }
    }
}
