import Foundation
import Testing

@testable import FeatureStore

@Suite struct StoreTests {
    let day: Int32 = 20_000  // 2024-10-04

    @Test func clickLogSourceReadsTheWindowAndReportsUnusableRows() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        try connection.query("""
            INSERT INTO danser.click_log (session_id, item_id, event_time) VALUES
              ('s1', 'a', '2024-10-03 10:00+00'), ('s1', 'b', '2024-10-03 10:01+00'),
              ('s2', 'a', '2024-10-04 00:00+00'), ('s0', 'c', '2024-09-01 00:00+00')
            """)
        try connection.query("CREATE TABLE public.raw_clicks (sid bigint, iid text, ts timestamptz)")
        try connection.query("INSERT INTO public.raw_clicks VALUES (7, 'x', '2024-10-03 00:00+00'), (NULL, 'y', '2024-10-03 00:00+00'), (8, 'z', NULL)")
        let before = Int64(day) * 86_400_000_000
        var clicks: [String] = []
        try ClickLogSource().read(on: connection, before: before, from: before - 2 * 86_400_000_000) { row in
            if case .click(let session, let item, _) = row { clicks.append(session + item) }
        }
        #expect(clicks.sorted() == ["s1a", "s1b"])
        let custom = try ClickLogSource(table: "public.raw_clicks", sessionColumn: "sid", itemColumn: "iid", timeColumn: "ts")
        var reasons: [String] = []
        var good = 0
        try custom.read(on: connection, before: before) { row in
            switch row {
            case .click: good += 1
            case .unusable(let reason, _, _): reasons.append(reason)
            }
        }
        #expect(good == 1)
        #expect(reasons.sorted() == ["missing session id", "missing timestamp"])
        #expect(throws: FeatureStoreError.self) { try ClickLogSource(table: "clicks; drop table x", sessionColumn: "a", itemColumn: "b", timeColumn: "c") }
    }

    @Test func vocabularyOnlyGrows() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let store = ItemVocabularyStore()
        try store.append(["a", "b"], after: 0, firstSeen: [1, 2], on: connection)
        try store.append(["c"], after: 2, firstSeen: [3], on: connection)
        #expect(try store.load(on: connection) == ["a", "b", "c"])
        #expect(throws: FeatureStoreError.self) { try store.append(["d"], after: 1, firstSeen: [4], on: connection) }
        #expect(throws: FeatureStoreError.self) { try connection.query("UPDATE danser.items SET item_index = 9 WHERE item_index = 1") }
        try store.updateActivity([(2, 5, 1_700_000_000_000_000)], on: connection)
        #expect(try connection.query("SELECT click_count FROM danser.items WHERE item_index = 2").scalar()?.int64Value == 5)
    }

    @Test func modelsFeaturesAndPromotion() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let registry = ModelRegistry()
        func insert(parent: Int64?, mode: ModelMode) throws -> Int64 {
            try registry.insert(
                parentVersion: parent, mode: mode, asOfDay: day, trainedThroughMicros: 5, itemCount: 3, dim: 2,
                hyperparametersJSON: "{\"d\": 2}", metricsJSON: "{}", fingerprint: "f-\(mode)", checkpoint: [1, 2, 3], runID: nil, on: connection)
        }
        let first = try insert(parent: nil, mode: .retrain)
        try registry.promote(version: first, change: .gate("no champion yet", runID: nil), on: connection)
        let second = try insert(parent: first, mode: .fineTune)
        try registry.promote(version: second, change: .gate("better", runID: nil), on: connection)
        #expect(try registry.champion(on: connection)?.version == second)
        #expect(try registry.previousChampion(on: connection)?.version == first)
        #expect(try registry.lastRetrainAsOfDay(of: second, on: connection) == day)
        #expect(try registry.find(asOfDay: day, fingerprint: "f-fine-tune", on: connection)?.version == second)
        #expect(try registry.checkpoint(version: first, on: connection) == [1, 2, 3])

        let features = FeatureRepository()
        let table: [Float] = (0..<(4 * 2)).map { Float($0) * 0.25 - 1 }
        try connection.withTransaction { connection in
            try features.saveEmbeddings(table, rows: 4, dim: 2, version: second, on: connection)
            try features.saveStatistics(
                NormalizationStatisticsRecord(clickCounts: [0, 3, 2, 1], logPriors: [0, -1, -1.5, -2], totalClicks: 6,
                    sessionPriorMean: -1.2, sessionPriorSD: 0.3, learnedScalarsJSON: "{\"b0\": 0.1}"),
                version: second, on: connection)
        }
        #expect(try features.loadEmbeddings(version: second, rows: 4, dim: 2, on: connection).map(\.bitPattern) == table.map(\.bitPattern))
        let statistics = try #require(try features.loadStatistics(version: second, on: connection))
        #expect(statistics.clickCounts == [0, 3, 2, 1] && statistics.logPriors == [0, -1, -1.5, -2])
        #expect(statistics.sessionPriorSD == 0.3)
        // A damaged blob is named, not decoded into garbage.
        try connection.query("UPDATE danser.item_embeddings SET blob = substring(blob from 1 for 40) WHERE model_version = $1", [.int64(second)])
        #expect {
            _ = try features.loadEmbeddings(version: second, rows: 4, dim: 2, on: connection)
        } throws: { error in
            (error as? FeatureStoreError)?.message.contains("model \(second) chunk 0") == true
        }
    }

    @Test func publishingSwapsADayWhole() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        let ledger = RunLedger()
        let publisher = RecommendationPublisher()
        func publish(model: Int64, sessions: [String]) throws -> Int64 {
            let run = try ledger.start(command: "nightly", asOfDay: day, host: "test", pid: 1, on: connection)
            let staging = try publisher.createStaging(day: day, on: connection)
            try publisher.copy(into: staging, day: day, modelVersion: model, runID: run, on: connection) { write in
                for session in sessions {
                    try write((1...3).map { RecommendationRow(sessionID: session, rank: Int16($0), itemID: "i\($0)", score: Float(10 - $0)) })
                }
            }
            #expect(try publisher.rowCount(of: staging, on: connection) == sessions.count * 3)
            try connection.withTransaction { try publisher.publish(day: day, runID: run, modelVersion: model, sessions: sessions.count, on: $0) }
            try ledger.finish(runID: run, status: .succeeded, modelVersion: model, rowCountsJSON: "{}", timingsJSON: "{}", metricsJSON: "{}", error: nil, on: connection)
            return run
        }
        _ = try publish(model: 1, sessions: ["a", "b"])
        #expect(try TestDatabase.psql(configuration, "SELECT count(*) FROM bi.recommendations_current") == "6")
        let second = try publish(model: 2, sessions: ["c"])
        #expect(try TestDatabase.psql(configuration, "SELECT count(*), min(model_version) FROM bi.recommendations_current") == "3|2")
        #expect(try publisher.published(day: day, on: connection)?.runID == second)
        #expect(try ledger.lastSucceeded(command: "nightly", asOfDay: day, on: connection)?.runID == second)
        // A leftover staging table of a killed run is replaced, never published.
        _ = try publisher.createStaging(day: day, on: connection)
        #expect(try TestDatabase.psql(configuration, "SELECT count(*) FROM bi.recommendations_current") == "3")
    }

    @Test func publishedDayCarriesTheKeyAndADuplicateKeepsThePreviousDay() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        let publisher = RecommendationPublisher()
        func stage(_ rows: [RecommendationRow], model: Int64) throws {
            let staging = try publisher.createStaging(day: day, on: connection)
            try publisher.copy(into: staging, day: day, modelVersion: model, runID: 1, on: connection) { write in try write(rows) }
        }
        try stage([RecommendationRow(sessionID: "a", rank: 1, itemID: "x", score: 1), RecommendationRow(sessionID: "a", rank: 2, itemID: "y", score: 0)], model: 1)
        try connection.withTransaction { try publisher.publish(day: day, runID: 1, modelVersion: 1, sessions: 1, on: $0) }
        let key = "SELECT count(*) FROM pg_index WHERE indrelid = 'danser.recommendations_20241004'::regclass AND indisprimary"
        #expect(try TestDatabase.psql(configuration, key) == "1")

        // A repeated (session, rank) fails the key: nothing changes, the previous day stays published.
        try stage([RecommendationRow(sessionID: "b", rank: 1, itemID: "x", score: 1), RecommendationRow(sessionID: "b", rank: 1, itemID: "y", score: 0)], model: 2)
        do {
            try connection.withTransaction { try publisher.publish(day: day, runID: 2, modelVersion: 2, sessions: 1, on: $0) }
            Issue.record("a duplicate key was published")
        } catch let error as FeatureStoreError {
            #expect(error.sqlState == "23505")
        }
        #expect(try TestDatabase.psql(configuration, "SELECT string_agg(session_id || rank || model_version, ',' ORDER BY rank) FROM bi.recommendations_current") == "a11,a21")
        #expect(try TestDatabase.psql(configuration, key) == "1")

        // A staging table takes rows of its own day only.
        let staging = try publisher.createStaging(day: day, on: connection)
        #expect(throws: FeatureStoreError.self) {
            try connection.query("INSERT INTO danser.\(staging) VALUES ('2024-10-05', 'c', 1, 'x', 1, 3, 1)")
        }
    }

    /// An empty staging table filled outside a transaction is written frozen (COPY ... FREEZE,
    /// migration 0014), so building the key rewrites none of its pages; a second batch into a
    /// table that already holds rows is appended, not lost; inside a caller's transaction the
    /// copy still works.
    @Test func stagingIsFilledFrozenAndAppendsKeepRows() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        try connection.query("CREATE EXTENSION IF NOT EXISTS pg_visibility")
        let publisher = RecommendationPublisher()
        func rows(_ session: String) -> [RecommendationRow] {
            (1...20).map { RecommendationRow(sessionID: session, rank: Int16($0), itemID: "i\($0)", score: Float(20 - $0)) }
        }
        let staging = try publisher.createStaging(day: day, on: connection)
        try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in
            for session in 0..<500 { try write(rows("s\(session)")) }
        }
        let frozen = "SELECT all_frozen > 0 AND all_frozen = (SELECT relpages FROM pg_class WHERE oid = 'danser.\(staging)'::regclass) "
            + "FROM pg_visibility_map_summary('danser.\(staging)'::regclass)"
        try connection.query("ANALYZE danser.\(staging)")
        #expect(try TestDatabase.psql(configuration, frozen) == "t")
        try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in try write(rows("later")) }
        try connection.withTransaction { connection in
            try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in try write(rows("inside")) }
        }
        #expect(try publisher.rowCount(of: staging, on: connection) == 502 * 20)
        try connection.withTransaction { try publisher.publish(day: day, runID: 1, modelVersion: 1, sessions: 502, on: $0) }
        #expect(try TestDatabase.psql(configuration, "SELECT count(*) FROM bi.recommendations_current") == "10040")
    }

    /// A day split by rank (migration 0017): each part is filled frozen by a connection of its
    /// own and keyed before the swap; the swap takes the parts' keys over, and publishing the
    /// same day again reuses the staging names.
    @Test func aDaySplitByRankIsFilledAndKeyedSideBySide() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        try connection.query("CREATE EXTENSION IF NOT EXISTS pg_visibility")
        let publisher = RecommendationPublisher()
        func publish(sessions: Int, item: String) throws -> StagingTable {
            let staging = try publisher.createStaging(day: day, k: 20, streams: 2, on: connection)
            let stored = try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in
                for session in 0..<sessions {
                    try write((1...20).map { RecommendationRow(sessionID: "s\(session)", rank: Int16($0), itemID: item + "\($0)", score: Float(20 - $0)) })
                }
            }
            #expect(stored == sessions * 20)
            for (part, ranks) in zip(staging.parts, ["1-10", "11-20"]) {
                let table = "danser.\(part)"
                try connection.query("ANALYZE \(table)")
                let held = try connection.query("SELECT min(rank) || '-' || max(rank), count(*) FROM \(table)")
                #expect(try held.text(0, 0) == ranks)
                #expect(try held.int(0, 1) == sessions * 10)
                #expect(try TestDatabase.psql(configuration, "SELECT all_frozen = (SELECT relpages FROM pg_class WHERE oid = '\(table)'::regclass) FROM pg_visibility_map_summary('\(table)'::regclass)") == "t")
                #expect(try connection.query("SELECT count(*) FROM pg_index WHERE indrelid = '\(table)'::regclass AND indisprimary").scalar() == .int64(1))
            }
            try connection.withTransaction { try publisher.publish(day: day, runID: 1, modelVersion: 1, sessions: sessions, on: $0) }
            return staging
        }
        let first = try publish(sessions: 300, item: "a")
        #expect(first.parts == ["recommendations_staging_20241004_p0", "recommendations_staging_20241004_p1"])
        let second = try publish(sessions: 200, item: "b")
        #expect(second == first)
        let parts = try connection.query("""
            SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'danser.recommendations_20241004'::regclass
            """).scalar()?.stringValue
        #expect(parts == "recommendations_20241004_p0,recommendations_20241004_p1")
        #expect(try TestDatabase.psql(configuration, "SELECT count(*), min(item_id) FROM bi.recommendations_current") == "4000|b1")
        #expect(try connection.query("SELECT row_count FROM danser.published_recommendations WHERE as_of = $1", [.date(day)]).scalar() == .int64(4_000))
        // The day's key is the parts' keys: a session's ranks read back in order from both parts.
        let ranks = try connection.query("SELECT string_agg(rank::text, ',' ORDER BY rank) FROM danser.recommendations WHERE as_of = $1 AND session_id = 's7'", [.date(day)])
        #expect(try ranks.text(0, 0) == (1...20).map(String.init).joined(separator: ","))
        #expect(throws: FeatureStoreError.self) {
            try connection.query("INSERT INTO danser.recommendations VALUES ('2024-10-04', 's7', 15, 'x', 0, 1, 1)")
        }
    }

    @Test func rankBoundsGiveEachStreamItsShareOfTheRanks() {
        #expect(StagingTable.rankBounds(k: 20, streams: 2) == [11])
        #expect(StagingTable.rankBounds(k: 20, streams: 1) == [])
        #expect(StagingTable.rankBounds(k: 1, streams: 2) == [])
        #expect(StagingTable.rankBounds(k: 3, streams: 4) == [2, 3])
        #expect(StagingTable.rankBounds(k: 100, streams: 3) == [34, 67])
        let staging = StagingTable(name: "t", rankBounds: [11])
        #expect([1, 10, 11, 20, 900].map { staging.part(ofRank: $0) } == [0, 0, 1, 1, 1])
    }

    /// The swap counts the day it publishes (bi.days' rows and fallback sessions) by reading the
    /// new partition once: not through the key it has just built, which the planner, without
    /// statistics for the new partition, chose for 100,000 rows and more (migration 0015).
    @Test func publishingCountsTheDayWithoutReadingItsKey() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        let publisher = RecommendationPublisher()
        let staging = try publisher.createStaging(day: day, on: connection)
        try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in
            for session in 0..<5_000 {
                try write((1...20).map { RecommendationRow(sessionID: "s\(session)", rank: Int16($0), itemID: "i\($0)", score: Float(20 - $0), isFallback: session % 10 == 0) })
            }
        }
        let scans = try connection.withTransaction { connection in
            try publisher.publish(day: day, runID: 1, modelVersion: 1, sessions: 5_000, on: connection)
            return try connection.query("""
                SELECT s.seq_scan, s.idx_scan FROM pg_stat_xact_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid
                WHERE i.inhparent = 'danser.recommendations'::regclass
                """)
        }
        #expect(scans.rowCount == 1)  // the day's partition, the only one in this database
        // Sequential reads to build the key and to count the day (how many this backend records
        // depends on whether the key was built in parallel); no index scan.
        #expect(try scans.int(0, 1) == 0)
        #expect(try scans.int(0, 0) >= 1)
        let counted = try connection.query("SELECT row_count, fallback_sessions FROM danser.published_recommendations WHERE as_of = $1", [.date(day)])
        #expect(try counted.int(0, 0) == 100_000)
        #expect(try counted.int(0, 1) == 500)
    }

    /// The swap logs the day's new key as compressed full-page images (migration 0016): less WAL
    /// than the index itself, where the server offers LZ4 compression. The swap runs exactly as
    /// the job calls it; EXPLAIN ANALYZE only reads this backend's WAL counters around it.
    @Test func publishingLogsTheKeyCompressed() throws {
        let configuration = try ProjectFiles.migratedDatabase()
        let connection = try Connection(configuration)
        let lz4 = try connection.query("SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'wal_compression'").scalar()
        guard lz4 == .bool(true) else { return }  // a server built without LZ4 swaps as before
        let publisher = RecommendationPublisher()
        let staging = try publisher.createStaging(day: day, on: connection)
        try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in
            for session in 0..<5_000 {
                try write((1...20).map { RecommendationRow(sessionID: "session-\(session)", rank: Int16($0), itemID: "item-\($0 * 37)", score: Float(20 - $0)) })
            }
        }
        let (walBytes, keyBytes) = try connection.withTransaction { connection in
            // The plan's one node runs the swap; its line "WAL: records=... bytes=N".
            let plan = try connection.query("EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF) SELECT danser.publish_recommendations_day('2024-10-04', 1, 1, 5000)")
            let lines = try (0..<plan.rowCount).map { try plan.text($0, 0) }
            let wal = lines.first { $0.contains("WAL:") }?.split(separator: " ").first { $0.hasPrefix("bytes=") }
            let walBytes = wal.flatMap { Int($0.dropFirst("bytes=".count)) } ?? -1
            let keyBytes = try connection.query("""
                SELECT pg_relation_size(indexrelid) FROM pg_index WHERE indrelid = 'danser.recommendations_20241004'::regclass AND indisprimary
                """).requiredScalar(QueryResult.int, "the size of the day's key")
            return (walBytes, keyBytes)
        }
        #expect(keyBytes > 2_000_000)
        #expect(walBytes > 0)
        #expect(walBytes < keyBytes / 2, "the swap logged \(walBytes) bytes of WAL for a key of \(keyBytes) bytes")
        #expect(try TestDatabase.psql(configuration, "SELECT count(*) FROM bi.recommendations_current") == "100000")
    }

    @Test func abandonedRunsAreClosedAndCheckpointsKept() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let ledger = RunLedger()
        let gone = try ledger.start(command: "nightly", asOfDay: day, host: "h", pid: 9, on: connection)
        let alive = try ledger.start(command: "score", asOfDay: day, host: "h", pid: 10, on: connection)
        let elsewhere = try ledger.start(command: "import", asOfDay: nil, host: "other", pid: 9, on: connection)
        _ = try ledger.heartbeat(runID: gone, stage: "train", on: connection)
        try ledger.noteCause(runID: gone, cause: "server closed the connection", on: connection)
        // Same host: pid 9 is gone, pid 10 alive; the other host's run has a fresh heartbeat.
        let closed = try ledger.closeAbandoned(host: "h", pid: 1, isAlive: { $0 == 10 }, expirySeconds: 60, on: connection)
        #expect(closed.map(\.runID) == [gone])
        #expect(try ledger.lastStatus(command: "nightly", asOfDay: day, on: connection) == .abandoned)
        let error = try connection.query("SELECT error FROM danser.runs WHERE run_id = $1", [.int64(gone)]).scalar()?.stringValue ?? ""
        #expect(error.contains("last stage train") && error.contains("server closed the connection"), "\(error)")
        #expect(try ledger.lastStatus(command: "score", asOfDay: day, on: connection) == .running)
        // Without a heartbeat for the expiry, the other host's run is abandoned too.
        try connection.query("UPDATE danser.runs SET heartbeat_at = now() - interval '2 minutes' WHERE run_id = $1", [.int64(elsewhere)])
        #expect(try ledger.closeAbandoned(host: "h", pid: 1, isAlive: { $0 == 10 }, expirySeconds: 60, on: connection).map(\.runID) == [elsewhere])
        _ = alive
        let checkpoints = TrainingCheckpointStore()
        try checkpoints.save(asOfDay: day, fingerprint: "f", epoch: 1, checkpoint: [1], runID: nil, on: connection)
        try checkpoints.save(asOfDay: day, fingerprint: "f", epoch: 2, checkpoint: [2, 2], runID: nil, on: connection)
        #expect(try checkpoints.load(asOfDay: day, fingerprint: "f", on: connection)?.epoch == 2)
        try checkpoints.delete(asOfDay: day, fingerprint: "f", on: connection)
        #expect(try checkpoints.load(asOfDay: day, fingerprint: "f", on: connection) == nil)
        #expect(try QuarantineStore().add([QuarantinedRow(source: "danser.click_log", lineNumber: nil, reason: "missing item id", rawLine: "s1,,")], runID: nil, on: connection) == 1)
        let bad = [QuarantinedRow(source: "public.raw", lineNumber: nil, reason: "missing timestamp", rawLine: "8,z")]
        #expect(try QuarantineStore().addNew(bad, runID: nil, on: connection) == 1)
        #expect(try QuarantineStore().addNew(bad, runID: nil, on: connection) == 0)
    }
}
