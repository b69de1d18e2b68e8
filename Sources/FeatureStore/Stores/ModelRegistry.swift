/// Where a model stands in the registry (`danser.models.status`).
public enum ModelStatus: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Scores the nights; at most one.
    case champion
    /// Passed its gate without being promoted (a backfilled date older than the champion's).
    case candidate
    /// Failed its gate, or was rolled back.
    case rejected
    /// A former champion; the newest one is what a rollback returns to.
    case retired
    /// Retired from the registry by an operator: never chosen again, by rollback, backfill or a rerun.
    case archived

    public var description: String { rawValue }
    /// May score a date: the champion, a former champion, or a candidate that passed its gate.
    public var isServable: Bool { self == .champion || self == .retired || self == .candidate }
}

/// How a model was trained (`danser.models.mode`).
public enum ModelMode: String, Sendable, CustomStringConvertible {
    case retrain
    case fineTune = "fine-tune"

    public var description: String { rawValue }
}

/// One row of `danser.models`, without its checkpoint.
public struct ModelRecord: Sendable, Equatable {
    public var version: Int64
    public var parentVersion: Int64?
    public var mode: ModelMode
    public var status: ModelStatus
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

/// Who changes the registry and why. Recorded with every status change it makes, by the trigger
/// of `danser.model_transitions` (with the time and the database login).
public struct RegistryChange: Sendable, Equatable {
    public enum Action: String, Sendable { case gate, promote, rollback, retire }
    public var action: Action
    /// Why, as the job puts it (the gate's verdict, or what the command does).
    public var reason: String
    /// The operator's own `--reason`, if given.
    public var operatorReason: String?
    /// The ledger row of the run or command making the change.
    public var runID: Int64?

    public init(_ action: Action, reason: String, operatorReason: String? = nil, runID: Int64? = nil) {
        self.action = action
        self.reason = reason
        self.operatorReason = operatorReason
        self.runID = runID
    }

    /// The gate's verdict on a night's model.
    public static func gate(_ reason: String, runID: Int64?) -> RegistryChange { RegistryChange(.gate, reason: reason, runID: runID) }
}

/// One row of the registry's history (`danser.model_transitions`).
public struct ModelTransition: Sendable, Equatable {
    public var transitionID: Int64
    public var atMicros: Int64
    public var modelVersion: Int64
    public var fromStatus: ModelStatus?
    public var toStatus: ModelStatus
    public var action: String
    public var reason: String?
    public var operatorReason: String?
    public var actor: String
    public var runID: Int64?
}

/// The model registry: every trained model, at most one champion, rejected ones kept.
public struct ModelRegistry: Sendable {
    public init() {}

    static let columns = "model_version, parent_version, mode, status, as_of, trained_through, item_count, dim, hyperparameters, metrics, fingerprint, gate_reason"

    /// Stores a new candidate with its checkpoint and returns its version.
    public func insert(
        parentVersion: Int64?, mode: ModelMode, asOfDay: Int32, trainedThroughMicros: Int64, itemCount: Int, dim: Int,
        hyperparametersJSON: String, metricsJSON: String, fingerprint: String, checkpoint: [UInt8], runID: Int64?,
        on connection: Connection
    ) throws -> Int64 {
        let result = try connection.query("""
            INSERT INTO danser.models (parent_version, mode, as_of, trained_through, item_count, dim, hyperparameters, metrics, fingerprint, checkpoint, run_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING model_version
            """,
            [parentVersion.map { .int64($0) } ?? .null, .text(mode.rawValue), .date(asOfDay), .timestamptz(trainedThroughMicros),
             .int32(Int32(itemCount)), .int32(Int32(dim)), .jsonb(hyperparametersJSON), .jsonb(metricsJSON),
             .text(fingerprint), .bytea(checkpoint), runID.map { .int64($0) } ?? .null])
        return try result.requiredScalar(QueryResult.int64, "inserting a model")
    }

    public func champion(on connection: Connection) throws -> ModelRecord? {
        try records("SELECT \(Self.columns) FROM danser.models WHERE status = 'champion'", [], on: connection).first
    }

    public func record(version: Int64, on connection: Connection) throws -> ModelRecord? {
        try records("SELECT \(Self.columns) FROM danser.models WHERE model_version = $1", [.int64(version)], on: connection).first
    }

    /// The model a run with this fingerprint already produced for the date, if any (an archived
    /// model is never reused).
    public func find(asOfDay: Int32, fingerprint: String, on connection: Connection) throws -> ModelRecord? {
        try records(
            "SELECT \(Self.columns) FROM danser.models WHERE as_of = $1 AND fingerprint = $2 AND status <> 'archived' ORDER BY model_version DESC LIMIT 1",
            [.date(asOfDay), .text(fingerprint)], on: connection
        ).first
    }

    /// The champion's version, its row locked against a concurrent promote or rollback until the
    /// caller's transaction ends: the compare half of publishing's compare-and-swap.
    public func lockedChampionVersion(on connection: Connection) throws -> Int64? {
        let result = try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion' FOR SHARE")
        return result.rowCount == 0 ? nil : try result.int64(0, 0)
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
    public func keepCandidate(version: Int64, change: RegistryChange, on connection: Connection) throws {
        try changing(change, on: connection) { connection in
            try connection.query(
                "UPDATE danser.models SET status = 'candidate', gate_reason = $2 WHERE model_version = $1 AND status <> 'champion'",
                [.int64(version), .text(change.reason)])
        }
    }

    /// Newest first.
    public func list(limit: Int = 50, on connection: Connection) throws -> [ModelRecord] {
        try records("SELECT \(Self.columns) FROM danser.models ORDER BY model_version DESC LIMIT $1", [.int64(Int64(limit))], on: connection)
    }

    public func checkpoint(version: Int64, on connection: Connection) throws -> [UInt8] {
        let result = try connection.query("SELECT checkpoint FROM danser.models WHERE model_version = $1", [.int64(version)])
        guard result.rowCount == 1, !result.isNull(0, 0) else {
            throw FeatureStoreError(.queryFailed, "model \(version) has no stored checkpoint",
                hint: "retrain with --mode retrain, or promote another model")
        }
        return try result.bytes(0, 0)
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
        return result.rowCount == 0 ? nil : try result.date(0, 0)
    }

    /// Makes `version` the champion (the previous one is retired), in the caller's transaction
    /// if there is one, else in its own.
    public func promote(version: Int64, change: RegistryChange, on connection: Connection) throws {
        try changing(change, on: connection) { connection in
            try connection.query("UPDATE danser.models SET status = 'retired' WHERE status = 'champion' AND model_version <> $1", [.int64(version)])
            let updated = try connection.query(
                "UPDATE danser.models SET status = 'champion', gate_reason = $2 WHERE model_version = $1", [.int64(version), .text(change.reason)])
            guard updated.affectedRows == 1 else {
                throw FeatureStoreError(.queryFailed, "there is no model \(version)", hint: "see danser-batch models list")
            }
        }
    }

    public func reject(version: Int64, change: RegistryChange, on connection: Connection) throws {
        try changing(change, on: connection) { connection in
            try connection.query(
                "UPDATE danser.models SET status = 'rejected', gate_reason = $2 WHERE model_version = $1 AND status <> 'champion'",
                [.int64(version), .text(change.reason)])
        }
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

    /// The registry's history, oldest first: of one model, or the newest `limit` changes.
    public func transitions(version: Int64? = nil, limit: Int = 100, on connection: Connection) throws -> [ModelTransition] {
        let result = try connection.query("""
            SELECT * FROM (
                SELECT transition_id, at, model_version, from_status, to_status, action, reason, operator_reason, actor, run_id
                FROM danser.model_transitions WHERE $1::bigint IS NULL OR model_version = $1
                ORDER BY transition_id DESC LIMIT $2
            ) newest ORDER BY transition_id
            """, [version.map { .int64($0) } ?? .null, .int64(Int64(limit))])
        return try (0..<result.rowCount).map { row in
            ModelTransition(
                transitionID: try result.int64(row, 0), atMicros: try result.timestamp(row, 1), modelVersion: try result.int64(row, 2),
                fromStatus: try result.optionalDecode(row, 3), toStatus: try result.decode(row, 4), action: try result.text(row, 5),
                reason: try result.optionalText(row, 6), operatorReason: try result.optionalText(row, 7), actor: try result.text(row, 8),
                runID: try result.optionalInt64(row, 9))
        }
    }

    /// Runs status changes with `change` in the transaction's settings, where the trigger of
    /// `danser.model_transitions` reads it; inside the caller's transaction or, with none, its own.
    func changing(_ change: RegistryChange, on connection: Connection, _ body: (Connection) throws -> Void) throws {
        func run(_ connection: Connection) throws {
            try connection.query("""
                SELECT set_config('danser.transition_action', $1, true), set_config('danser.transition_reason', $2, true),
                       set_config('danser.transition_note', $3, true), set_config('danser.transition_run', $4, true)
                """,
                [.text(change.action.rawValue), .text(change.reason), .text(change.operatorReason ?? ""),
                 .text(change.runID.map(String.init) ?? "")])
            try body(connection)
        }
        if connection.isInTransaction { try run(connection) } else { try connection.withTransaction(run) }
    }

    private func records(_ sql: String, _ parameters: [PostgresValue], on connection: Connection) throws -> [ModelRecord] {
        let result = try connection.query(sql, parameters)
        return try (0..<result.rowCount).map { row in
            ModelRecord(
                version: try result.int64(row, 0),
                parentVersion: try result.optionalInt64(row, 1),
                mode: try result.decode(row, 2),
                status: try result.decode(row, 3),
                asOfDay: try result.date(row, 4),
                trainedThroughMicros: try result.timestamp(row, 5),
                itemCount: try result.int(row, 6),
                dim: try result.int(row, 7),
                hyperparametersJSON: try result.text(row, 8),
                metricsJSON: try result.text(row, 9),
                fingerprint: try result.optionalText(row, 10),
                gateReason: try result.optionalText(row, 11))
        }
    }
}
