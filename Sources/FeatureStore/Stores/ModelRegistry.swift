/// One row of `danser.models`, without its checkpoint.
public struct ModelRecord: Sendable, Equatable {
    public var version: Int64
    public var parentVersion: Int64?
    /// `retrain` or `fine-tune`.
    public var mode: String
    /// `candidate`, `champion`, `rejected` or `retired`.
    public var status: String
    /// Logical date (days since the Unix epoch) of the run that trained it.
    public var asOfDay: Int32
    public var trainedThroughMicros: Int64
    public var itemCount: Int
    public var dim: Int
    public var hyperparametersJSON: String
    public var metricsJSON: String
    public var fingerprint: String?
    public var gateReason: String?
}

/// The model registry: every trained model, at most one champion, rejected ones kept.
public struct ModelRegistry: Sendable {
    public init() {}

    static let columns = "model_version, parent_version, mode, status, as_of, trained_through, item_count, dim, hyperparameters, metrics, fingerprint, gate_reason"

    /// Stores a new candidate with its checkpoint and returns its version.
    public func insert(
        parentVersion: Int64?, mode: String, asOfDay: Int32, trainedThroughMicros: Int64, itemCount: Int, dim: Int,
        hyperparametersJSON: String, metricsJSON: String, fingerprint: String, checkpoint: [UInt8], runID: Int64?,
        on connection: Connection
    ) throws -> Int64 {
        let result = try connection.query("""
            INSERT INTO danser.models (parent_version, mode, as_of, trained_through, item_count, dim, hyperparameters, metrics, fingerprint, checkpoint, run_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING model_version
            """,
            [parentVersion.map { .int64($0) } ?? .null, .text(mode), .date(asOfDay), .timestamptz(trainedThroughMicros),
             .int32(Int32(itemCount)), .int32(Int32(dim)), .jsonb(hyperparametersJSON), .jsonb(metricsJSON),
             .text(fingerprint), .bytea(checkpoint), runID.map { .int64($0) } ?? .null])
        guard let version = try result.scalar()?.int64Value else {
            throw FeatureStoreError(.decodingFailed, "inserting a model returned no version")
        }
        return version
    }

    public func champion(on connection: Connection) throws -> ModelRecord? {
        try records("SELECT \(Self.columns) FROM danser.models WHERE status = 'champion'", [], on: connection).first
    }

    public func record(version: Int64, on connection: Connection) throws -> ModelRecord? {
        try records("SELECT \(Self.columns) FROM danser.models WHERE model_version = $1", [.int64(version)], on: connection).first
    }

    /// The model a run with this fingerprint already produced for the date, if any.
    public func find(asOfDay: Int32, fingerprint: String, on connection: Connection) throws -> ModelRecord? {
        try records(
            "SELECT \(Self.columns) FROM danser.models WHERE as_of = $1 AND fingerprint = $2 ORDER BY model_version DESC LIMIT 1",
            [.date(asOfDay), .text(fingerprint)], on: connection
        ).first
    }

    /// The champion's version, its row locked against a concurrent promote or rollback until the
    /// caller's transaction ends: the compare half of publishing's compare-and-swap.
    public func lockedChampionVersion(on connection: Connection) throws -> Int64? {
        try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion' FOR SHARE").scalar()?.int64Value
    }

    /// Models trained for the date, oldest first.
    public func models(asOfDay: Int32, on connection: Connection) throws -> [ModelRecord] {
        try records("SELECT \(Self.columns) FROM danser.models WHERE as_of = $1 ORDER BY model_version", [.date(asOfDay)], on: connection)
    }

    /// The newest model of an earlier date that served or passed its gate (champion, retired, or a
    /// candidate kept by a backfill): the point-in-time model for `day`, which has seen no click
    /// on or after it.
    public func newestServable(before day: Int32, on connection: Connection) throws -> ModelRecord? {
        try records(
            "SELECT \(Self.columns) FROM danser.models WHERE as_of < $1 AND status IN ('champion', 'retired', 'candidate') ORDER BY as_of DESC, model_version DESC LIMIT 1",
            [.date(day)], on: connection
        ).first
    }

    /// Records the gate's verdict on a model that passed but is not promoted (a backfilled date
    /// older than the champion's): it stays a candidate.
    public func keepCandidate(version: Int64, reason: String, on connection: Connection) throws {
        try connection.query(
            "UPDATE danser.models SET status = 'candidate', gate_reason = $2 WHERE model_version = $1 AND status <> 'champion'",
            [.int64(version), .text(reason)])
    }

    /// Newest first.
    public func list(limit: Int = 50, on connection: Connection) throws -> [ModelRecord] {
        try records("SELECT \(Self.columns) FROM danser.models ORDER BY model_version DESC LIMIT $1", [.int64(Int64(limit))], on: connection)
    }

    public func checkpoint(version: Int64, on connection: Connection) throws -> [UInt8] {
        guard let bytes = try connection.query("SELECT checkpoint FROM danser.models WHERE model_version = $1", [.int64(version)]).scalar()?.bytesValue else {
            throw FeatureStoreError(.queryFailed, "model \(version) has no stored checkpoint",
                hint: "retrain with --mode retrain, or promote another model")
        }
        return bytes
    }

    /// Date of the last full retrain in the model's ancestry (itself if it was one).
    public func lastRetrainAsOfDay(of version: Int64, on connection: Connection) throws -> Int32? {
        let result = try connection.query("""
            WITH RECURSIVE chain AS (
                SELECT model_version, parent_version, mode, as_of FROM danser.models WHERE model_version = $1
                UNION ALL
                SELECT m.model_version, m.parent_version, m.mode, m.as_of FROM danser.models m JOIN chain c ON m.model_version = c.parent_version
            )
            SELECT as_of FROM chain WHERE mode = 'retrain' ORDER BY as_of DESC LIMIT 1
            """, [.int64(version)])
        if case .date(let day)? = try result.scalar() { return day }
        return nil
    }

    /// Makes `version` the champion (the previous one is retired), in the caller's transaction.
    public func promote(version: Int64, reason: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.models SET status = 'retired' WHERE status = 'champion' AND model_version <> $1", [.int64(version)])
        let updated = try connection.query(
            "UPDATE danser.models SET status = 'champion', gate_reason = $2 WHERE model_version = $1", [.int64(version), .text(reason)])
        guard updated.affectedRows == 1 else {
            throw FeatureStoreError(.queryFailed, "there is no model \(version)", hint: "see danser-batch models list")
        }
    }

    public func reject(version: Int64, reason: String, on connection: Connection) throws {
        try connection.query(
            "UPDATE danser.models SET status = 'rejected', gate_reason = $2 WHERE model_version = $1 AND status <> 'champion'",
            [.int64(version), .text(reason)])
    }

    public func updateMetrics(version: Int64, metricsJSON: String, on connection: Connection) throws {
        try connection.query("UPDATE danser.models SET metrics = $2 WHERE model_version = $1", [.int64(version), .jsonb(metricsJSON)])
    }

    /// The champion before the current one (the newest retired model), for rollback.
    public func previousChampion(on connection: Connection) throws -> ModelRecord? {
        try records(
            "SELECT \(Self.columns) FROM danser.models WHERE status = 'retired' ORDER BY model_version DESC LIMIT 1", [], on: connection
        ).first
    }

    private func records(_ sql: String, _ parameters: [PostgresValue], on connection: Connection) throws -> [ModelRecord] {
        let result = try connection.query(sql, parameters)
        return try (0..<result.rowCount).map { row in
            func date(_ value: PostgresValue) -> Int32 { if case .date(let day) = value { return day } else { return 0 } }
            return ModelRecord(
                version: try result.value(row, 0).int64Value ?? 0,
                parentVersion: try result.value(row, 1).int64Value,
                mode: try result.value(row, 2).stringValue ?? "",
                status: try result.value(row, 3).stringValue ?? "",
                asOfDay: date(try result.value(row, 4)),
                trainedThroughMicros: try result.value(row, 5).timestampMicros ?? 0,
                itemCount: Int(try result.value(row, 6).int64Value ?? 0),
                dim: Int(try result.value(row, 7).int64Value ?? 0),
                hyperparametersJSON: try result.value(row, 8).stringValue ?? "{}",
                metricsJSON: try result.value(row, 9).stringValue ?? "{}",
                fingerprint: try result.value(row, 10).stringValue,
                gateReason: try result.value(row, 11).stringValue)
        }
    }
}
