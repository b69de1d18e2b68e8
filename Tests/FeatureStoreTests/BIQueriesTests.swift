import Foundation
import Testing

@testable import FeatureStore

/// The example queries of docs/BI.md, read out of the document and run as an analyst (a login
/// in role danser_bi) against two small published days, so the document cannot drift from what
/// works. Roles are cluster-wide, so the suite runs its tests one at a time.
@Suite(.serialized) struct BIQueriesTests {
    static let firstDay: Int32 = 20_784  // 2026-11-27, as in the document's example 5
    static let secondDay: Int32 = 20_785  // 2026-11-28
    static let k = 20
    static let catalogue = 80

    /// The item at `rank` for a session on a day: a fixed, skewed pattern, so popular items and
    /// day-to-day changes are known in advance. The second day shifts every list by one rank.
    static func item(session: Int, rank: Int, day: Int32) -> String {
        let shift = Int(day - firstDay)
        let position = rank + shift
        return "item-\((session % 7) * 3 + position * position % 61)"
    }

    static let sessions = (1000..<1060).map { $0 }

    @Test func exampleQueriesWorkUnderTheBIRole() throws {
        let fixture = try Fixture.make()
        let queries = try Self.exampleQueries()
        #expect(queries.count == 5)
        guard queries.count == 5 else { return }
        let bi = fixture.analyst

        // 1. Top 20 for session 1042 from the current (second) day.
        let top = try bi.query(queries[0])
        #expect(Self.names(top) == ["rank", "item_id", "score", "as_of", "published_at"])
        let topRows = try top.rows()
        #expect(topRows.count == 20)
        #expect(topRows.map { $0[0].int64Value } == (1...20).map { Int64($0) })
        #expect(topRows.map { $0[1].stringValue } == (1...20).map { Self.item(session: 1042, rank: $0, day: Self.secondDay) })
        #expect(topRows.allSatisfy { $0[3] == .date(Self.secondDay) && $0[4].timestampMicros != nil })

        // 2. The model of the current result: the fine-tuned champion and its metrics.
        let model = try bi.query(queries[1])
        #expect(model.rowCount == 1)
        let row = try model.rows().first ?? []
        let column = Self.columns(model)
        #expect(row[column["as_of"]!] == .date(Self.secondDay))
        #expect(row[column["model_version"]!] == .int64(fixture.secondModel))
        #expect(row[column["recommendation_rows"]!] == .int64(Int64(Self.sessions.count * Self.k)))
        #expect(row[column["status"]!] == .text("champion"))
        #expect(row[column["mode"]!] == .text("fine-tune"))
        #expect(row[column["parent_version"]!] == .int64(fixture.firstModel))
        #expect(Self.close(row[column["p_at_20"]!], 51.25))
        #expect(Self.close(row[column["mrr_at_20"]!], 18.5))
        #expect(row[column["published_at"]!].timestampMicros != nil)

        // 3. Most recommended items and coverage, against counts made here from the same pattern.
        var counts: [String: Int] = [:]
        for session in Self.sessions {
            for rank in 1...Self.k { counts[Self.item(session: session, rank: rank, day: Self.secondDay), default: 0] += 1 }
        }
        let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let coverage = try bi.query(queries[2])
        let coverageColumn = Self.columns(coverage)
        let coverageRows = try coverage.rows()
        #expect(coverageRows.count == 20)
        #expect(coverageRows.map { $0[coverageColumn["item_id"]!].stringValue! } == ranked.prefix(20).map(\.key))
        #expect(coverageRows.map { $0[coverageColumn["times_recommended"]!].int64Value! } == ranked.prefix(20).map { Int64($0.value) })
        #expect(coverageRows.first?[coverageColumn["distinct_items_recommended"]!] == .int64(Int64(counts.count)))
        let expectedCoverage = (1000.0 * Double(counts.count) / Double(Self.catalogue)).rounded() / 10
        #expect(Self.close(coverageRows.first?[coverageColumn["catalogue_coverage_pct"]!] ?? .null, expectedCoverage))
        let expectedShare = (10000.0 * Double(ranked[0].value) / Double(Self.sessions.count * Self.k)).rounded() / 100
        #expect(Self.close(coverageRows.first?[coverageColumn["share_pct"]!] ?? .null, expectedShare))

        // 4. The last runs, newest first: the failed one, then the two nights with their P@20.
        let runs = try bi.query(queries[3])
        let runColumn = Self.columns(runs)
        let runRows = try runs.rows()
        #expect(runRows.count == 3)
        #expect(runRows.map { $0[runColumn["status"]!].stringValue } == ["failed", "succeeded", "succeeded"])
        #expect(Self.close(runRows[1][runColumn["candidate_p_at_20"]!], 51.25))
        #expect(Self.close(runRows[1][runColumn["champion_p_at_20"]!], 49.5))
        #expect(Self.close(runRows[2][runColumn["candidate_p_at_20"]!], 49.5))
        #expect(Self.close(runRows[1][runColumn["train_seconds"]!], 30.5))
        #expect(Self.close(runRows[1][runColumn["score_seconds"]!], 4.25))
        #expect(runRows[1][runColumn["total_seconds"]!] != .null)
        #expect(runRows[0][runColumn["error"]!] == .text("too little data"))

        // 5. Session 1042 between the two days: every list moves up one rank.
        let change = try bi.query(queries[4])
        #expect(Self.names(change) == ["item_id", "rank_before", "rank_after", "change"])
        let before = (1...Self.k).map { Self.item(session: 1042, rank: $0, day: Self.firstDay) }
        let after = (1...Self.k).map { Self.item(session: 1042, rank: $0, day: Self.secondDay) }
        var expected: [[PostgresValue]] = []
        for (index, item) in after.enumerated() {
            let old = before.firstIndex(of: item).map { PostgresValue.int16(Int16($0 + 1)) } ?? .null
            let kind = old == .null ? "added" : old == .int16(Int16(index + 1)) ? "same rank" : "moved"
            expected.append([.text(item), old, .int16(Int16(index + 1)), .text(kind)])
        }
        for (index, item) in before.enumerated() where !after.contains(item) {
            expected.append([.text(item), .int16(Int16(index + 1)), .null, .text("dropped")])
        }
        #expect(try change.rows() == expected)
        #expect(expected.contains { $0[3] == .text("dropped") } && expected.contains { $0[3] == .text("moved") })
    }

    @Test func biRoleNeverWritesAndSeesLaterPartitions() throws {
        let fixture = try Fixture.make()
        let bi = fixture.analyst
        for statement in [
            "INSERT INTO bi.recommendations_current (session_id, rank, item_id, score, model_version, as_of, run_id) VALUES ('s', 21, 'x', 1, 1, '2026-11-28', 1)",
            "UPDATE bi.recommendations_history SET item_id = 'x'",
            "DELETE FROM bi.runs",
            "UPDATE bi.models SET status = 'champion'",
            "INSERT INTO danser.recommendations VALUES ('2026-11-28', 's', 21, 'x', 1, 1, 1)",
            "DELETE FROM danser.published_recommendations",
            "SELECT danser.create_recommendations_staging('2026-11-29')",
            "SELECT danser.publish_recommendations('2026-11-28', 1, 1, 1)",
            "SELECT danser.drop_recommendations_day('2026-11-27')",
            "SELECT danser.ensure_recommendations_partition('2026-12-01')",
        ] {
            do {
                try bi.query(statement)
                Issue.record("the BI role could run: \(statement)")
            } catch let error as FeatureStoreError {
                // 42501: no privilege; 55000: a view cannot take writes at all.
                #expect(["42501", "55000"].contains(error.sqlState), "\(statement): \(error)")
            }
        }
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_history").scalar() == .int64(Int64(2 * Self.sessions.count * Self.k)))

        // A day published after the grants (a new partition) is visible at once, without a grant.
        let thirdDay = Self.secondDay + 1
        try fixture.publish(day: thirdDay, model: fixture.secondModel, sessions: [1042])
        #expect(try bi.query("SELECT DISTINCT as_of FROM bi.recommendations_current").scalar() == .date(thirdDay))
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_current").scalar() == .int64(Int64(Self.k)))
        #expect(try bi.query("SELECT count(DISTINCT as_of) FROM bi.recommendations_history").scalar() == .int64(3))
        // A staging table being filled is invisible until it is published.
        let staging = try RecommendationPublisher().createStaging(day: thirdDay + 1, on: fixture.owner)
        try RecommendationPublisher().copy(into: staging, day: thirdDay + 1, modelVersion: fixture.secondModel, runID: 1, on: fixture.owner) { write in
            try write([RecommendationRow(sessionID: "1042", rank: 1, itemID: "x", score: 1)])
        }
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_history WHERE as_of = $1", [.date(thirdDay + 1)]).scalar() == .int64(0))
    }

    // MARK: - The document

    /// The SQL blocks of docs/BI.md that start with `-- Example N`, in order.
    static func exampleQueries() throws -> [String] {
        let path = URL(fileURLWithPath: ProjectFiles.sqlDirectory).deletingLastPathComponent().appendingPathComponent("docs/BI.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```sql" {
                current = []
            } else if current != nil, line == "```" {
                if let first = current?.first, first.hasPrefix("-- Example ") { blocks.append(current!.joined(separator: "\n")) }
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    static func names(_ result: QueryResult) -> [String] { (0..<result.columnCount).map(result.columnName) }

    static func columns(_ result: QueryResult) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: (0..<result.columnCount).map { (result.columnName($0), $0) })
    }

    static func close(_ value: PostgresValue, _ expected: Double) -> Bool {
        guard let number = number(value) else { return false }
        return abs(number - expected) < 1e-9
    }

    /// A number of any type, including `numeric` (which arrives in its binary form).
    static func number(_ value: PostgresValue) -> Double? {
        guard case .raw(let oid, let bytes) = value, oid == 1700 else { return value.doubleValue }
        func word(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        let digits = word(0)
        let weight = Int(Int16(truncatingIfNeeded: word(2)))
        let negative = word(4) == 0x4000
        var result = 0.0
        for index in 0..<digits { result += Double(word(8 + 2 * index)) * pow(10_000, Double(weight - index)) }
        return negative ? -result : result
    }

    // MARK: - The data

    /// A migrated database with roles, an analyst login, and two published days made as the owner:
    /// a retrained model for the first day, a fine-tuned champion for the second, and a failed run.
    struct Fixture {
        let owner: Connection
        let analyst: Connection
        let firstModel: Int64
        let secondModel: Int64

        static func make() throws -> Fixture {
            let database = try ProjectFiles.migratedDatabase()
            let owner = try Connection(database)
            try applyRoles(on: owner)
            let analystName = "analyst_\(UInt32.random(in: 0...UInt32.max))"
            try owner.query("CREATE ROLE \(analystName) LOGIN IN ROLE danser_bi")

            let ledger = RunLedger()
            let registry = ModelRegistry()
            func night(day: Int32, parent: Int64?, metrics: String, timings: String) throws -> (run: Int64, model: Int64) {
                let run = try ledger.start(command: "nightly", asOfDay: day, host: "test", pid: 1, on: owner)
                let model = try registry.insert(
                    parentVersion: parent, mode: parent == nil ? "retrain" : "fine-tune", asOfDay: day,
                    trainedThroughMicros: Int64(day) * 86_400_000_000 - 1, itemCount: BIQueriesTests.catalogue, dim: 64,
                    hyperparametersJSON: "{}", metricsJSON: metrics, fingerprint: "f\(day)", checkpoint: [1], runID: run, on: owner)
                try registry.promote(version: model, reason: "better than the champion", on: owner)
                try ledger.finish(
                    runID: run, status: "succeeded", modelVersion: model,
                    rowCountsJSON: "{\"sessions_scored\": \(BIQueriesTests.sessions.count)}", timingsJSON: timings,
                    metricsJSON: metrics, error: nil, reportPath: nil, on: owner)
                return (run, model)
            }
            let first = try night(
                day: BIQueriesTests.firstDay, parent: nil,
                metrics: #"{"candidate": {"p@20": 49.5, "mrr@20": 17.75, "p@10": 40, "mrr@10": 17}}"#,
                timings: #"{"ingest": 1.5, "train": 28, "score": 4}"#)
            var fixture = Fixture(owner: owner, analyst: try Connection(database.withUser(analystName)), firstModel: first.model, secondModel: 0)
            try fixture.publish(day: BIQueriesTests.firstDay, model: first.model, run: first.run, sessions: BIQueriesTests.sessions)
            let second = try night(
                day: BIQueriesTests.secondDay, parent: first.model,
                metrics: #"{"candidate": {"p@20": 51.25, "mrr@20": 18.5, "p@10": 42, "mrr@10": 18}, "champion": {"p@20": 49.5, "mrr@20": 17.75, "p@10": 40, "mrr@10": 17}}"#,
                timings: #"{"ingest": 1.5, "train": 30.5, "score": 4.25}"#)
            fixture = Fixture(owner: owner, analyst: fixture.analyst, firstModel: first.model, secondModel: second.model)
            try fixture.publish(day: BIQueriesTests.secondDay, model: second.model, run: second.run, sessions: BIQueriesTests.sessions)
            let failed = try ledger.start(command: "nightly", asOfDay: BIQueriesTests.secondDay + 1, host: "test", pid: 1, on: owner)
            try ledger.finish(
                runID: failed, status: "failed", modelVersion: nil, rowCountsJSON: "{}", timingsJSON: #"{"ingest": 0.5}"#,
                metricsJSON: "{}", error: "too little data", reportPath: nil, on: owner)
            return fixture
        }

        /// Publishes a day the way the nightly job does: staging, COPY, swap in one transaction.
        func publish(day: Int32, model: Int64, run: Int64 = 1, sessions: [Int]) throws {
            let publisher = RecommendationPublisher()
            try owner.withTransaction { connection in
                let staging = try publisher.createStaging(day: day, on: connection)
                try publisher.copy(into: staging, day: day, modelVersion: model, runID: run, on: connection) { write in
                    for session in sessions {
                        try write((1...BIQueriesTests.k).map { rank in
                            RecommendationRow(
                                sessionID: String(session), rank: Int16(rank),
                                itemID: BIQueriesTests.item(session: session, rank: rank, day: day), score: 1 / Float(rank))
                        })
                    }
                }
                try publisher.publish(day: day, runID: run, modelVersion: model, sessions: sessions.count, on: connection)
            }
        }

        /// roles.sql touches cluster-wide roles; another suite may apply it at the same moment
        /// in another database, which PostgreSQL can refuse with "tuple concurrently updated".
        static func applyRoles(on connection: Connection) throws {
            for attempt in 1...5 {
                do {
                    try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: connection)
                    return
                } catch where attempt < 5 {
                    Thread.sleep(forTimeInterval: 0.2 * Double(attempt))
                }
            }
        }
    }
}
