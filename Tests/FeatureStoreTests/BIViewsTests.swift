import Foundation
import Testing

@testable import FeatureStore

/// The shape of the bi views: descriptions on every column, fallback rows kept out of model
/// scores, and bi.days counted when a day is published (whole, by shards, rerun, or before the
/// counts existed).
@Suite struct BIViewsTests {
    static let day: Int32 = 20_784  // 2026-11-27

    @Test func everyViewAndEveryColumnOfSchemaBIHasADescription() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let views = try connection.query("""
            SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'bi' AND c.relkind = 'v' ORDER BY c.relname
            """).rows()
        #expect(views.map { $0[0].stringValue ?? "" } == [
            "days", "evaluations", "item_statistics", "model_transitions", "models", "normalization_stats", "recommendations_current",
            "recommendations_history", "runs", "served_days",
        ])
        #expect(views.filter { $0[1] != .bool(true) }.isEmpty, "views without a description: \(views)")
        let undescribed = try connection.query("""
            SELECT c.relname || '.' || a.attname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = 'bi' AND c.relkind = 'v' AND col_description(c.oid, a.attnum) IS NULL
            ORDER BY 1
            """).rows().map { $0[0].stringValue ?? "" }
        #expect(undescribed.isEmpty, "columns without a description: \(undescribed)")
    }

    @Test func fallbackRowsAreMarkedAndKeepTheirClicksOutOfScore() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        try publish(day: Self.day, run: 1, model: 7, sessions: ["a": false, "b": true, "c": false], on: connection)
        let rows = try connection.query("""
            SELECT session_id, rank, score, is_fallback, fallback_clicks FROM bi.recommendations_current ORDER BY session_id, rank
            """).rows()
        #expect(rows.count == 9)
        #expect(rows.filter { $0[0] == .text("b") }.map { [$0[2], $0[3], $0[4]] } == [
            [.null, .bool(true), .int64(900)], [.null, .bool(true), .int64(800)], [.null, .bool(true), .int64(700)],
        ])
        #expect(rows.filter { $0[0] != .text("b") }.allSatisfy { $0[2] != .null && $0[3] == .bool(false) && $0[4] == .null })
        // Averages over score see model rows only.
        let average = try connection.query("SELECT avg(score) FROM bi.recommendations_history WHERE as_of = $1", [.date(Self.day)]).scalar()
        #expect(abs((average?.doubleValue ?? 0) - (1.0 + 0.5 + 1.0 / 3) / 3) < 1e-6)
    }

    @Test func daysAreCountedWhenPublishedAndWhenRepublished() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        try publish(day: Self.day, run: 1, model: 7, sessions: ["a": false, "b": true, "c": true, "d": false], on: connection)
        try publish(day: Self.day + 1, run: 2, model: 7, sessions: ["a": false], on: connection)
        #expect(try days(on: connection) == [
            [.date(Self.day + 1), .int64(1), .int64(3), .int64(0), .float8(0), .bool(true)],
            [.date(Self.day), .int64(4), .int64(12), .int64(2), .float8(0.5), .bool(false)],
        ])
        // A rerun of the older day replaces its counts with those of the new rows.
        try publish(day: Self.day, run: 3, model: 8, sessions: ["a": false, "b": true], on: connection)
        #expect(try days(on: connection).last == [.date(Self.day), .int64(2), .int64(6), .int64(1), .float8(0.5), .bool(false)])
        #expect(try connection.query("SELECT run_id, model_version FROM bi.days WHERE as_of = $1", [.date(Self.day)]).rows() == [[.int64(3), .int64(8)]])
    }

    @Test func aDayPublishedByShardsIsCountedWhole() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let publisher = RecommendationPublisher()
        for (shard, sessions) in [["a": false, "b": true], ["c": true]].enumerated() {
            let staging = try publisher.createShardStaging(day: Self.day, shard: shard, of: 2, on: connection)
            try publisher.copy(into: staging, day: Self.day, modelVersion: 7, runID: Int64(shard + 1), on: connection) { write in
                for (session, fallback) in sessions.sorted(by: { $0.key < $1.key }) { try write(Self.rows(session, fallback: fallback)) }
            }
            _ = try connection.withTransaction { connection in
                try publisher.completeShard(
                    day: Self.day, shard: shard, of: 2, runID: Int64(shard + 1), modelVersion: 7, sessions: sessions.count,
                    rows: 3 * sessions.count, on: connection)
            }
        }
        #expect(try days(on: connection) == [[.date(Self.day), .int64(3), .int64(9), .int64(2), .float8(2.0 / 3), .bool(true)]])
    }

    @Test func daysPublishedBeforeTheCountsExistedAreCountedByTheMigration() throws {
        let database = try TestDatabase.makeDatabase()
        let connection = try Connection(database)
        let all = try ProjectFiles.migrations()
        try Migrator(all.filter { $0.version < 9 }).apply(on: connection)
        // Two days as the job published them before: a whole run that counted its fallback
        // sessions, and a day whose run scored only one shard of it (its count is not the day's).
        for (offset, sessionsScored) in [(0, 2), (1, 1)] {
            let day = Self.day + Int32(offset)
            let run = try connection.query(
                "INSERT INTO danser.runs (command, as_of, status, row_counts) VALUES ('nightly', $1, 'succeeded', $2) RETURNING run_id",
                [.date(day), .jsonb("{\"sessions_scored\": \(sessionsScored), \"fallback_sessions\": 1}")]
            ).scalar()?.int64Value ?? 0
            try connection.withTransaction { connection in
                try connection.query("SELECT danser.create_recommendations_staging($1)", [.date(day)])
                let table = "danser.recommendations_staging_" + (offset == 0 ? "20261127" : "20261128")
                try connection.query("""
                    INSERT INTO \(table) (as_of, session_id, rank, item_id, score, model_version, run_id)
                    SELECT $1, s, r, 'i' || r, 10 - r, 7, $2 FROM unnest(ARRAY['a', 'b']) s, generate_series(1, 3) r
                    """, [.date(day), .int64(run)])
                try connection.query("SELECT danser.publish_recommendations($1, $2, 7, 2)", [.date(day), .int64(run)])
            }
        }
        try Migrator(all).apply(on: connection)
        #expect(try days(on: connection) == [
            [.date(Self.day + 1), .int64(2), .int64(6), .null, .null, .bool(true)],
            [.date(Self.day), .int64(2), .int64(6), .int64(1), .float8(0.5), .bool(false)],
        ])
        #expect(try connection.query("SELECT count(*) FROM bi.recommendations_history WHERE is_fallback OR score IS NULL").scalar() == .int64(0))
    }

    // MARK: - Helpers

    /// Three rows of a session: model scores 1, 1/2, 1/3, or fallback click counts 900, 800, 700.
    static func rows(_ session: String, fallback: Bool) -> [RecommendationRow] {
        (1...3).map { rank in
            RecommendationRow(
                sessionID: session, rank: Int16(rank), itemID: "item-\(rank)",
                score: fallback ? Float(1_000 - 100 * rank) : 1 / Float(rank), isFallback: fallback)
        }
    }

    /// Publishes a day as the nightly job does; `sessions` maps each session to "is a fallback".
    func publish(day: Int32, run: Int64, model: Int64, sessions: [String: Bool], on connection: Connection) throws {
        let publisher = RecommendationPublisher()
        try connection.withTransaction { connection in
            let staging = try publisher.createStaging(day: day, on: connection)
            try publisher.copy(into: staging, day: day, modelVersion: model, runID: run, on: connection) { write in
                for (session, fallback) in sessions.sorted(by: { $0.key < $1.key }) { try write(Self.rows(session, fallback: fallback)) }
            }
            try publisher.publish(day: day, runID: run, modelVersion: model, sessions: sessions.count, on: connection)
        }
    }

    func days(on connection: Connection) throws -> [[PostgresValue]] {
        try connection.query(
            "SELECT as_of, sessions, recommendation_rows, fallback_sessions, fallback_share, is_current FROM bi.days ORDER BY as_of DESC"
        ).rows()
    }
}
