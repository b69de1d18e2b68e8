internal import Foundation
internal import Logging

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

/// A day's staging table: one table, or parts split by rank (migration 0017), each filled by a
/// connection of its own so that the day is written and keyed by several server processes at once.
public struct StagingTable: Sendable, Equatable {
    public let name: String
    /// The first rank of each part after the first; empty for one table.
    public let rankBounds: [Int16]

    public init(name: String, rankBounds: [Int16] = []) {
        self.name = name
        self.rankBounds = rankBounds
    }

    /// The tables the rows go into: `<name>_p0`, `_p1`, ... or the one table.
    public var parts: [String] { rankBounds.isEmpty ? [name] : (0...rankBounds.count).map { "\(name)_p\($0)" } }

    /// The part that holds a row of this rank.
    func part(ofRank rank: Int16) -> Int {
        var part = 0
        while part < rankBounds.count && rankBounds[part] <= rank { part += 1 }
        return part
    }

    /// Most parts a staging table may have (migration 0017), so most streams a day is written by.
    public static let maximumParts = 16

    /// Rank bounds that give each of `streams` parts about as many of a session's `k` rows.
    public static func rankBounds(k: Int, streams: Int) -> [Int16] {
        let parts = max(1, min(streams, k))
        return (1..<parts).map { Int16(1 + $0 * k / parts) }
    }
}

/// Writes a night's top-K into a staging table by binary COPY and swaps it in as that day's
/// partition and current result in one transaction, so BI readers never see a partial result.
public struct RecommendationPublisher: Sendable {
    public init() {}

    /// Creates an empty staging table for `day` whose `k` ranks are split into `streams` parts
    /// (one table when `streams` is 1, or `k` is).
    public func createStaging(day: Int32, k: Int, streams: Int, on connection: Connection) throws -> StagingTable {
        let bounds = StagingTable.rankBounds(k: k, streams: streams)
        guard !bounds.isEmpty else { return StagingTable(name: try createStaging(day: day, on: connection)) }
        guard let name = try connection.query(
            "SELECT danser.create_recommendations_staging($1, $2::smallint[])", [.date(day), .text("{" + bounds.map(String.init).joined(separator: ",") + "}")]
        ).scalar()?.stringValue else {
            throw FeatureStoreError(.queryFailed, "creating the recommendations staging table returned no name")
        }
        return StagingTable(name: name, rankBounds: bounds)
    }

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
        try copy(into: StagingTable(name: staging), day: day, modelVersion: modelVersion, runID: runID, on: connection, produce)
    }

    /// Streams rows into a staging table. A table split by rank is filled outside a transaction
    /// by one connection a part at once (this one and one more for each further part), each part
    /// by COPY ... FREEZE in a transaction of its own, and each part is then keyed by its own
    /// connection, side by side: the swap's key then only takes the parts' keys over.
    /// Inside a transaction, or when a further connection cannot be opened, the rows go through
    /// the staging table on this connection alone.
    @discardableResult
    public func copy(
        into staging: StagingTable, day: Int32, modelVersion: Int64, runID: Int64, on connection: Connection,
        _ produce: (_ write: ([RecommendationRow]) throws -> Void) throws -> Void
    ) throws -> Int {
        let encoder = RowEncoder(day: day, modelVersion: modelVersion, runID: runID)
        guard !connection.isInTransaction else {
            return try connection.copyIn(encoder.statement(try SQLIdentifier.quoted("danser." + staging.name), freeze: false)) { writer in
                try produce { rows in try rows.forEach { try encoder.append($0, to: &writer) } }
            }
        }
        guard !staging.rankBounds.isEmpty else {
            return try fill([staging.name], on: [connection], encoder: encoder) { writers in
                try produce { rows in try rows.forEach { try encoder.append($0, to: &writers[0].pointee) } }
            }
        }
        guard let others = Self.moreConnections(like: connection, count: staging.rankBounds.count) else {
            // The server routes each row to its part; the swap keys the parts.
            return try connection.withTransaction { connection in
                try connection.copyIn(encoder.statement(try SQLIdentifier.quoted("danser." + staging.name), freeze: false)) { writer in
                    try produce { rows in try rows.forEach { try encoder.append($0, to: &writer) } }
                }
            }
        }
        let connections = [connection] + others
        let stored = try fill(staging.parts, on: connections, encoder: encoder) { writers in
            try produce { rows in try rows.forEach { try encoder.append($0, to: &writers[staging.part(ofRank: $0.rank)].pointee) } }
        }
        try Self.key(staging.parts, on: connections, sideBySide: true)
        return stored
    }

    /// Fills each table on its connection in a transaction of its own, all COPYs open at once:
    /// `produce` gets one writer a table. Returns the rows the server stored in all of them.
    private func fill(
        _ tables: [String], on connections: [Connection], encoder: RowEncoder, opened writers: [UnsafeMutablePointer<BinaryCopyWriter>] = [],
        _ produce: ([UnsafeMutablePointer<BinaryCopyWriter>]) throws -> Void
    ) throws -> Int {
        guard let table = tables.first, let connection = connections.first else {
            try produce(writers)
            return 0
        }
        var inner = 0
        let stored = try connection.withTransaction { connection in
            let empty = try connection.query("SELECT danser.prepare_recommendations_staging($1)", [.text(table)])
            guard case .bool(let freeze) = try empty.value(0, 0) else {
                throw FeatureStoreError(.decodingFailed, "preparing the staging table \(table) returned no boolean")
            }
            return try connection.copyIn(encoder.statement(try SQLIdentifier.quoted("danser." + table), freeze: freeze)) { writer in
                try withUnsafeMutablePointer(to: &writer) { pointer in
                    inner = try fill(Array(tables.dropFirst()), on: Array(connections.dropFirst()), encoder: encoder, opened: writers + [pointer], produce)
                }
            }
        }
        return stored + inner
    }

    /// Opens `count` more connections like `connection`, or none when one of them cannot be opened.
    private static func moreConnections(like connection: Connection, count: Int) -> [Connection]? {
        var opened: [Connection] = []
        for _ in 0..<count {
            guard let another = try? Connection(connection.configuration, logger: connection.logger) else {
                connection.logger.warning("cannot open a further connection to publish side by side; publishing on one", metadata: ["parts": "\(count + 1)"])
                return nil
            }
            opened.append(another)
        }
        return opened
    }

    /// Builds the key of each filled part on its connection; with `sideBySide`, all at once
    /// (each connection a thread of its own).
    private static func key(_ parts: [String], on connections: [Connection], sideBySide: Bool) throws {
        let builds = zip(parts, connections).map { KeyBuild(part: $0.0, connection: $0.1) }
        guard sideBySide, builds.count > 1 else {
            try builds.forEach { try $0.run() }
            return
        }
        let done = DispatchGroup()
        for build in builds.dropFirst() {
            done.enter()
            Thread {
                build.runCatching()
                done.leave()
            }.start()
        }
        builds[0].runCatching()
        done.wait()
        if let failure = builds.lazy.compactMap(\.failure).first { throw failure }
    }

    /// One part's key build, run on the thread that owns its connection for the while.
    private final class KeyBuild: @unchecked Sendable {
        let part: String
        let connection: Connection
        var failure: (any Error)?

        init(part: String, connection: Connection) {
            self.part = part
            self.connection = connection
        }

        func run() throws { try connection.query("SELECT danser.key_recommendations_staging_part($1)", [.text(part)]) }

        func runCatching() {
            do { try run() } catch { failure = error }
        }
    }

    /// The COPY statement and the encoding of one row.
    private struct RowEncoder {
        let day: Int32
        let modelVersion: Int64
        let runID: Int64

        func statement(_ table: String, freeze: Bool) -> String {
            "COPY \(table) (as_of, session_id, rank, item_id, score, model_version, run_id, is_fallback) FROM STDIN (\(freeze ? "FORMAT binary, FREEZE" : "FORMAT binary"))"
        }

        func append(_ row: RecommendationRow, to writer: inout BinaryCopyWriter) throws {
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
