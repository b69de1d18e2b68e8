/// One published recommendation row.
public struct RecommendationRow: Sendable {
    public var sessionID: String
    public var rank: Int16
    public var itemID: String
    /// Model score; for a popularity-fallback row, the item's click count.
    public var score: Float
    /// True for a row of the popularity fallback rather than of the model (`is_fallback`).
    public var isFallback: Bool

    public init(sessionID: String, rank: Int16, itemID: String, score: Float, isFallback: Bool = false) {
        self.sessionID = sessionID
        self.rank = rank
        self.itemID = itemID
        self.score = score
        self.isFallback = isFallback
    }
}

/// Writes a night's top-K into a staging table by binary COPY and swaps it in as that day's
/// partition and current result in one transaction, so BI readers never see a partial result.
public struct RecommendationPublisher: Sendable {
    public init() {}

    /// Creates an empty staging table for `day` (a leftover of a killed run is dropped first).
    public func createStaging(day: Int32, on connection: Connection) throws -> String {
        guard let name = try connection.query("SELECT danser.create_recommendations_staging($1)", [.date(day)]).scalar()?.stringValue else {
            throw FeatureStoreError(.queryFailed, "creating the recommendations staging table returned no name")
        }
        return name
    }

    /// Creates an empty staging table for one hash shard of `day`'s sessions.
    public func createShardStaging(day: Int32, shard: Int, of shards: Int, on connection: Connection) throws -> String {
        guard let name = try connection.query(
            "SELECT danser.create_recommendations_shard_staging($1, $2, $3)", [.date(day), .int32(Int32(shard)), .int32(Int32(shards))]
        ).scalar()?.stringValue else {
            throw FeatureStoreError(.queryFailed, "creating the staging table of shard \(shard)/\(shards) returned no name")
        }
        return name
    }

    /// Records a staged, audited shard as done; the shard that completes the set merges all of
    /// them and publishes the day. Returns how many shards are still missing (0: published now).
    /// Call inside a transaction.
    public func completeShard(
        day: Int32, shard: Int, of shards: Int, runID: Int64, modelVersion: Int64, sessions: Int, rows: Int, on connection: Connection
    ) throws -> Int {
        let remaining = try connection.query(
            "SELECT danser.complete_recommendations_shard_day($1, $2, $3, $4, $5, $6, $7)",
            [.date(day), .int32(Int32(shard)), .int32(Int32(shards)), .int64(runID), .int64(modelVersion), .int64(Int64(sessions)), .int64(Int64(rows))]
        ).requiredScalar(QueryResult.int, "recording a shard")
        return remaining
    }

    /// Streams rows into the staging table; `produce` calls `write` for each batch of rows.
    /// Returns the rows the server stored. Outside a transaction, an empty staging table is
    /// filled by COPY ... FREEZE in a transaction of its own (migration 0014): its rows are
    /// written once, frozen, and building the day's key rewrites none of its pages.
    @discardableResult
    public func copy(
        into staging: String, day: Int32, modelVersion: Int64, runID: Int64, on connection: Connection,
        _ produce: (_ write: ([RecommendationRow]) throws -> Void) throws -> Void
    ) throws -> Int {
        let table = try SQLIdentifier.quoted("danser." + staging)
        guard !connection.isInTransaction else { return try copyRows(into: table, freeze: false, day: day, modelVersion: modelVersion, runID: runID, on: connection, produce) }
        return try connection.withTransaction { connection in
            let empty = try connection.query("SELECT danser.prepare_recommendations_staging($1)", [.text(staging)])
            guard case .bool(let freeze) = try empty.value(0, 0) else {
                throw FeatureStoreError(.decodingFailed, "preparing the staging table \(staging) returned no boolean")
            }
            return try copyRows(into: table, freeze: freeze, day: day, modelVersion: modelVersion, runID: runID, on: connection, produce)
        }
    }

    private func copyRows(
        into table: String, freeze: Bool, day: Int32, modelVersion: Int64, runID: Int64, on connection: Connection,
        _ produce: (_ write: ([RecommendationRow]) throws -> Void) throws -> Void
    ) throws -> Int {
        let options = freeze ? "FORMAT binary, FREEZE" : "FORMAT binary"
        return try connection.copyIn("COPY \(table) (as_of, session_id, rank, item_id, score, model_version, run_id, is_fallback) FROM STDIN (\(options))") { writer in
            try produce { rows in
                for row in rows {
                    try writer.beginRow(fieldCount: 8)
                    writer.appendDate(days: day)
                    writer.appendText(row.sessionID)
                    writer.appendInt16(row.rank)
                    writer.appendText(row.itemID)
                    writer.appendFloat(row.score)
                    writer.appendInt64(modelVersion)
                    writer.appendInt64(runID)
                    writer.appendBool(row.isFallback)
                }
            }
        }
    }

    public func rowCount(of staging: String, on connection: Connection) throws -> Int {
        let table = try SQLIdentifier.quoted("danser." + staging)
        return try connection.query("SELECT count(*) FROM \(table)").requiredScalar(QueryResult.int, "counting staged rows")
    }

    /// Makes the staged rows the day's published result and seals the day's partition (read-only
    /// for the job role). Call inside a transaction.
    public func publish(day: Int32, runID: Int64, modelVersion: Int64, sessions: Int, on connection: Connection) throws {
        try connection.query(
            "SELECT danser.publish_recommendations_day($1, $2, $3, $4)",
            [.date(day), .int64(runID), .int64(modelVersion), .int64(Int64(sessions))])
    }

    /// Records a staged, audited shard as done without publishing. Returns how many shards of the
    /// day are still missing (0: the day is complete and can be merged, audited and published).
    /// Call inside a transaction.
    public func recordShard(
        day: Int32, shard: Int, of shards: Int, runID: Int64, modelVersion: Int64, sessions: Int, rows: Int, fallbackSessions: Int,
        on connection: Connection
    ) throws -> Int {
        let remaining = try connection.query(
            "SELECT danser.record_recommendations_shard($1, $2, $3, $4, $5, $6, $7, $8)",
            [.date(day), .int32(Int32(shard)), .int32(Int32(shards)), .int64(runID), .int64(modelVersion),
             .int64(Int64(sessions)), .int64(Int64(rows)), .int64(Int64(fallbackSessions))]
        ).scalar()?.int64Value
        return Int(remaining ?? -1)
    }

    /// Totals of the staged shards of a day: (sessions, rows, fallback sessions, model versions).
    public func shardTotals(day: Int32, shards: Int, on connection: Connection) throws -> (sessions: Int, rows: Int, fallbackSessions: Int, models: [Int64]) {
        let result = try connection.query("""
            SELECT coalesce(sum(sessions), 0)::bigint, coalesce(sum(row_count), 0)::bigint, coalesce(sum(fallback_sessions), 0)::bigint,
                   coalesce(array_to_string(array_agg(DISTINCT model_version), ','), '')
            FROM danser.score_shards WHERE as_of = $1 AND shard_count = $2
            """, [.date(day), .int32(Int32(shards))])
        let models = try result.text(0, 3).split(separator: ",").map { text in
            guard let version = Int64(text) else { throw FeatureStoreError(.decodingFailed, "a shard names the model version '\(text)'") }
            return version
        }
        return (try result.int(0, 0), try result.int(0, 1), try result.int(0, 2), models)
    }

    /// Merges the staged shards of a complete day into the day's staging table and returns its
    /// name. Call inside the transaction that audits and publishes the day.
    public func mergeShards(day: Int32, shards: Int, on connection: Connection) throws -> String {
        guard let name = try connection.query(
            "SELECT danser.merge_recommendations_shards($1, $2)", [.date(day), .int32(Int32(shards))]
        ).scalar()?.stringValue else {
            throw FeatureStoreError(.queryFailed, "merging the shards of the day returned no staging table")
        }
        return name
    }

    /// Makes the staged rows the day's published result together with the audit they passed.
    /// Call inside a transaction, after the audit's checks.
    public func publish(day: Int32, runID: Int64, modelVersion: Int64, sessions: Int, auditJSON: String, on connection: Connection) throws {
        try connection.query(
            "SELECT danser.publish_audited_recommendations_day($1, $2, $3, $4, $5)",
            [.date(day), .int64(runID), .int64(modelVersion), .int64(Int64(sessions)), .jsonb(auditJSON)])
    }

    /// The newest audited published day before `day`, what a new day is compared with:
    /// (day, sessions, rows; rows nil when its audit did not record them).
    public func lastAudited(before day: Int32, on connection: Connection) throws -> (day: Int32, sessions: Int, rows: Int?)? {
        let result = try connection.query("""
            SELECT as_of, sessions, (audit->>'rows')::bigint FROM danser.published_recommendations
            WHERE as_of < $1 AND audit IS NOT NULL ORDER BY as_of DESC LIMIT 1
            """, [.date(day)])
        guard result.rowCount == 1 else { return nil }
        return (try result.date(0, 0), try result.int(0, 1), try result.optionalInt64(0, 2).map { Int($0) })
    }

    /// The published run of a day, if any: (run id, model version, sessions).
    public func published(day: Int32, on connection: Connection) throws -> (runID: Int64, modelVersion: Int64, sessions: Int)? {
        let result = try connection.query("SELECT run_id, model_version, sessions FROM danser.published_recommendations WHERE as_of = $1", [.date(day)])
        guard result.rowCount == 1 else { return nil }
        return (try result.int64(0, 0), try result.int64(0, 1), try result.int(0, 2))
    }
}
