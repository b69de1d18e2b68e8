/// One row of the run ledger.
public struct RunRecord: Sendable {
    public var runID: Int64
    public var command: String
    public var asOfDay: Int32?
    public var status: String
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
            "INSERT INTO danser.runs (command, as_of, status, host, pid) VALUES ($1, $2, 'running', $3, $4) RETURNING run_id",
            [.text(command), asOfDay.map { .date($0) } ?? .null, .text(host), .int32(pid)])
        guard let id = try result.scalar()?.int64Value else { throw FeatureStoreError(.decodingFailed, "the ledger returned no run id") }
        return id
    }

    /// Closes a run with its outcome.
    public func finish(
        runID: Int64, status: String, modelVersion: Int64?, rowCountsJSON: String, timingsJSON: String, metricsJSON: String,
        error: String?, reportPath: String?, on connection: Connection
    ) throws {
        try connection.query("""
            UPDATE danser.runs SET status = $2, finished_at = now(), model_version = $3, row_counts = $4, timings = $5,
                metrics = $6, error = $7, report_path = $8
            WHERE run_id = $1
            """,
            [.int64(runID), .text(status), modelVersion.map { .int64($0) } ?? .null, .jsonb(rowCountsJSON), .jsonb(timingsJSON),
             .jsonb(metricsJSON), .optionalText(error), .optionalText(reportPath)])
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
        return try result.scalar()?.int64Value ?? 0
    }

    /// Runs of `command` still marked running while this process holds the job lock died
    /// without closing their row (kill -9, power loss): mark them failed. Returns how many.
    @discardableResult
    public func closeAbandoned(command: String, on connection: Connection) throws -> Int {
        try connection.query(
            "UPDATE danser.runs SET status = 'failed', finished_at = now(), error = 'the process ended without closing the run (killed?)' WHERE command = $1 AND status = 'running'",
            [.text(command)]).affectedRows
    }

    public func lastSucceeded(command: String, asOfDay: Int32, on connection: Connection) throws -> RunRecord? {
        try records("WHERE command = $1 AND as_of = $2 AND status = 'succeeded' ORDER BY run_id DESC LIMIT 1", [.text(command), .date(asOfDay)], on: connection).first
    }

    public func lastStatus(command: String, asOfDay: Int32, on connection: Connection) throws -> String? {
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
        try connection.query("SELECT max(finished_at) FROM danser.runs WHERE command = $1 AND status = 'succeeded'", [.text(command)]).scalar()?.timestampMicros
    }

    private func records(_ tail: String, _ parameters: [PostgresValue], on connection: Connection) throws -> [RunRecord] {
        let result = try connection.query(
            "SELECT run_id, command, as_of, status, started_at, finished_at, model_version, row_counts, timings, metrics, error, report_path FROM danser.runs " + tail,
            parameters)
        return try (0..<result.rowCount).map { row in
            var asOf: Int32?
            if case .date(let day) = try result.value(row, 2) { asOf = day }
            return RunRecord(
                runID: try result.value(row, 0).int64Value ?? 0, command: try result.value(row, 1).stringValue ?? "",
                asOfDay: asOf, status: try result.value(row, 3).stringValue ?? "",
                startedMicros: try result.value(row, 4).timestampMicros ?? 0, finishedMicros: try result.value(row, 5).timestampMicros,
                modelVersion: try result.value(row, 6).int64Value, rowCountsJSON: try result.value(row, 7).stringValue ?? "{}",
                timingsJSON: try result.value(row, 8).stringValue ?? "{}", metricsJSON: try result.value(row, 9).stringValue ?? "{}",
                error: try result.value(row, 10).stringValue, reportPath: try result.value(row, 11).stringValue)
        }
    }
}
