import Foundation
import Testing

@testable import FeatureStore

/// Every SQL block of docs/BI.md, read out of the document and run as an analyst (a login in
/// role danser_bi) against two small published days, so the document cannot drift from what
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
    /// Sessions the second day gives the popularity fallback (the model knew none of their items).
    static let fallbackSessions = Set(1055..<1060)

    /// Clicks of `item-k` in the fixture's statistics: the popularity order is item-0, item-1, ...
    static func clicks(ofItem k: Int) -> Int64 { Int64(1_000 - 10 * k) }

    /// A session's published rows on a day: model rows (score 1 / rank) or, for a fallback
    /// session on the second day, the most clicked items with their clicks as score.
    static func rows(session: Int, day: Int32) -> [RecommendationRow] {
        (1...k).map { rank in
            if day == secondDay && fallbackSessions.contains(session) {
                return RecommendationRow(
                    sessionID: String(session), rank: Int16(rank), itemID: "item-\(rank - 1)",
                    score: Float(clicks(ofItem: rank - 1)), isFallback: true)
            }
            return RecommendationRow(sessionID: String(session), rank: Int16(rank), itemID: item(session: session, rank: rank, day: day), score: 1 / Float(rank))
        }
    }

    @Test func exampleQueriesWorkUnderTheBIRole() throws {
        let fixture = try Fixture.make()
        let queries = try Self.exampleQueries()
        #expect(queries.count == 11)
        guard queries.count == 11 else { return }
        let bi = fixture.analyst

        // 1. Top 20 for session 1042 from the current (second) day.
        let top = try bi.query(queries[0])
        #expect(Self.names(top) == ["rank", "item_id", "score", "is_fallback", "as_of", "published_at"])
        let topRows = try top.rows()
        #expect(topRows.count == 20)
        #expect(topRows.map { $0[0].int64Value } == (1...20).map { Int64($0) })
        #expect(topRows.map { $0[1].stringValue } == (1...20).map { Self.item(session: 1042, rank: $0, day: Self.secondDay) })
        #expect(topRows.allSatisfy { $0[3] == .bool(false) && $0[4] == .date(Self.secondDay) && $0[5].timestampMicros != nil })

        // 2. The model of the current result: the fine-tuned champion, its lineage and metrics.
        let model = try bi.query(queries[1])
        #expect(model.rowCount == 1)
        let row = try model.rows().first ?? []
        let column = Self.columns(model)
        #expect(row[column["as_of"]!] == .date(Self.secondDay))
        #expect(row[column["model_version"]!] == .int64(fixture.secondModel))
        #expect(row[column["recommendation_rows"]!] == .int64(Int64(Self.sessions.count * Self.k)))
        #expect(row[column["status"]!] == .text("champion"))
        #expect(row[column["mode"]!] == .text("fine-tune"))
        #expect(row[column["configuration"]!] == .text("danser"))
        #expect(row[column["parent_version"]!] == .int64(fixture.firstModel))
        #expect(Self.close(row[column["p_at_20"]!], 51.25))
        #expect(Self.close(row[column["mrr_at_20"]!], 18.5))
        #expect(row[column["evaluation_from"]!] == .timestamptz(Int64(Self.secondDay - 1) * 86_400_000_000))
        #expect(row[column["evaluation_until"]!] == .timestamptz(Int64(Self.secondDay) * 86_400_000_000))
        #expect(row[column["published_at"]!].timestampMicros != nil)

        // 3. Most recommended items and coverage, against counts made here from the same rows.
        var counts: [String: Int] = [:]
        for session in Self.sessions {
            for row in Self.rows(session: session, day: Self.secondDay) { counts[row.itemID, default: 0] += 1 }
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

        // 4. The last nightly runs, newest first (the import run left out): the failed one, then
        // the two nights with their P@20.
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

        // 6. The published days, newest first, with the fallback share of each.
        let days = try bi.query(queries[5])
        let dayColumn = Self.columns(days)
        let dayRows = try days.rows()
        #expect(dayRows.map { $0[dayColumn["as_of"]!] } == [.date(Self.secondDay), .date(Self.firstDay)])
        #expect(dayRows.map { $0[dayColumn["sessions"]!] } == [.int64(60), .int64(60)])
        #expect(dayRows.map { $0[dayColumn["recommendation_rows"]!] } == [.int64(1_200), .int64(1_200)])
        #expect(dayRows.map { $0[dayColumn["fallback_sessions"]!] } == [.int64(5), .int64(0)])
        #expect(Self.close(dayRows[0][dayColumn["fallback_pct"]!], 8.3) && Self.close(dayRows[1][dayColumn["fallback_pct"]!], 0))
        #expect(dayRows.map { $0[dayColumn["model_version"]!] } == [.int64(fixture.secondModel), .int64(fixture.firstModel)])
        #expect(dayRows.map { $0[dayColumn["is_current"]!] } == [.bool(true), .bool(false)])
        #expect(dayRows.map { $0[dayColumn["run_command"]!] } == [.text("nightly"), .text("nightly")])

        // 7. Scores by rank: averages of model rows only; the fallback rows apart.
        let byRank = try bi.query(queries[6])
        let rankColumn = Self.columns(byRank)
        let rankRows = try byRank.rows()
        #expect(rankRows.count == Self.k)
        for (index, row) in rankRows.enumerated() {
            let rank = index + 1
            #expect(row[rankColumn["model_rows"]!] == .int64(55))
            #expect(Self.close(row[rankColumn["avg_model_score"]!], (1000 / Double(rank)).rounded() / 1000))
            #expect(Self.close(row[rankColumn["median_model_score"]!], (1000 / Double(rank)).rounded() / 1000))
            #expect(row[rankColumn["fallback_rows"]!] == .int64(5))
            #expect(Self.close(row[rankColumn["avg_fallback_clicks"]!], Double(Self.clicks(ofItem: rank - 1))))
        }

        // 8. Every contender of each night, with the gap to that night's candidate.
        let evaluations = try bi.query(queries[7])
        let evaluationColumn = Self.columns(evaluations)
        let evaluationRows = try evaluations.rows()
        let contenders = evaluationRows.map { "\($0[evaluationColumn["model_version"]!].int64Value ?? 0) \($0[evaluationColumn["contender"]!].stringValue ?? "")" }
        #expect(contenders == [
            "\(fixture.secondModel) session_kNN", "\(fixture.secondModel) candidate", "\(fixture.secondModel) champion",
            "\(fixture.secondModel) popularity", "\(fixture.firstModel) candidate", "\(fixture.firstModel) popularity",
        ])
        #expect(Self.close(evaluationRows[0][evaluationColumn["p_at_20_minus_candidate"]!], 1.75))
        #expect(Self.close(evaluationRows[3][evaluationColumn["p_at_20_minus_candidate"]!], -31.25))
        #expect(evaluationRows[0][evaluationColumn["evaluation_prefixes"]!] == .int64(4_321))

        // 9. Lineage of both models.
        let lineage = try bi.query(queries[8])
        let lineageColumn = Self.columns(lineage)
        let lineageRows = try lineage.rows()
        #expect(lineageRows.count == 2)
        let fineTune = lineageRows[0]
        #expect(fineTune[lineageColumn["run_id"]!] == .int64(fixture.secondRun))
        #expect(fineTune[lineageColumn["training_from"]!] == .timestamptz(Int64(Self.secondDay - 8) * 86_400_000_000))
        #expect(fineTune[lineageColumn["training_until"]!] == .timestamptz(Int64(Self.secondDay - 1) * 86_400_000_000))
        #expect(fineTune[lineageColumn["source_table"]!] == .text("danser.click_log"))
        #expect(fineTune[lineageColumn["epochs"]!] == .int32(2))
        #expect(Self.close(fineTune[lineageColumn["learning_rate"]!], 0.0001))
        #expect(fineTune[lineageColumn["gate_reason"]!] == .text("better than the champion"))
        #expect(lineageRows[1][lineageColumn["training_from"]!] == .null)
        #expect(lineageRows[1][lineageColumn["configuration"]!] == .text("srgnn"))

        // 10. Normalization of the current model and its most clicked items.
        let statistics = try bi.query(queries[9])
        let statisticsColumn = Self.columns(statistics)
        let statisticsRows = try statistics.rows()
        #expect(statisticsRows.map { $0[statisticsColumn["item_id"]!] } == (0..<10).map { .text("item-\($0)") })
        #expect(statisticsRows.map { $0[statisticsColumn["click_count"]!] } == (0..<10).map { .int64(Self.clicks(ofItem: $0)) })
        #expect(statisticsRows.allSatisfy { $0[statisticsColumn["model_version"]!] == .int64(fixture.secondModel) })
        #expect(Self.close(statisticsRows[0][statisticsColumn["b1"]!], -0.5))
        #expect(statisticsRows[0][statisticsColumn["total_clicks"]!] == .int64(Fixture.totalClicks))

        // 11. What served each day: the fixture's days were published without a contest, so each
        // is served by the registry's model ('neural'), with no margin.
        let served = try bi.query(queries[10])
        #expect(Self.names(served) == ["as_of", "served_kind", "served_setting", "won_by_mrr20", "gain_over_danser"])
        #expect(try served.rows().allSatisfy { $0[1] == .text("neural") && $0[3].isNull })
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

    /// Every SQL block of docs/BI.md, in order; each must start with `-- Example N`, numbered from 1.
    static func exampleQueries() throws -> [String] {
        let path = URL(fileURLWithPath: ProjectFiles.sqlDirectory).deletingLastPathComponent().appendingPathComponent("docs/BI.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```sql" {
                current = []
            } else if current != nil, line == "```" {
                let block = current!.joined(separator: "\n")
                #expect(block.hasPrefix("-- Example \(blocks.count + 1):"), "SQL block \(blocks.count + 1) of docs/BI.md is not numbered: \(block.prefix(60))")
                blocks.append(block)
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
        var secondRun: Int64 = 0

        /// Training clicks of the second model's statistics.
        static let totalClicks = (0..<BIQueriesTests.catalogue).reduce(Int64(0)) { $0 + BIQueriesTests.clicks(ofItem: $1) }

        /// What the nightly job records about a training (NightlyJob's hyperparameters).
        static func hyperparameters(configuration: String, epochs: Int, learningRate: Double) -> String {
            """
            {"configuration_name": "\(configuration)", "configuration": {"learningRate": \(learningRate), "batchSize": 100, "propagationSteps": 3},
             "epochs": \(epochs), "seed": 1, "evaluation_days": 1, "min_item_clicks": 5, "finetune_window_days": 7,
             "source": {"table": "danser.click_log", "session_column": "session_id", "item_column": "item_id", "time_column": "event_time"}}
            """
        }

        static func make() throws -> Fixture {
            let database = try ProjectFiles.migratedDatabase()
            let owner = try Connection(database)
            try applyRoles(on: owner)
            let analystName = "analyst_\(UInt32.random(in: 0...UInt32.max))"
            try owner.query("CREATE ROLE \(analystName) LOGIN IN ROLE danser_bi")

            let ledger = RunLedger()
            let registry = ModelRegistry()
            let imported = try ledger.start(command: "import", asOfDay: nil, host: "test", pid: 1, on: owner)
            try ledger.finish(
                runID: imported, status: .succeeded, modelVersion: nil, rowCountsJSON: #"{"rows_imported": 2400}"#, timingsJSON: "{}",
                metricsJSON: "{}", error: nil, on: owner)
            let catalogue = (0..<BIQueriesTests.catalogue).map { "item-\($0)" }
            try ItemVocabularyStore().append(catalogue, after: 0, firstSeen: catalogue.map { _ in 0 }, on: owner)
            func night(day: Int32, parent: Int64?, hyperparameters: String, metrics: String, timings: String) throws -> (run: Int64, model: Int64) {
                let run = try ledger.start(command: "nightly", asOfDay: day, host: "test", pid: 1, on: owner)
                let model = try registry.insert(
                    parentVersion: parent, mode: parent == nil ? .retrain : .fineTune, asOfDay: day,
                    trainedThroughMicros: Int64(day) * 86_400_000_000 - 1, itemCount: BIQueriesTests.catalogue, dim: 64,
                    hyperparametersJSON: hyperparameters, metricsJSON: metrics, fingerprint: "f\(day)", checkpoint: [1], runID: run, on: owner)
                try registry.promote(version: model, change: .gate("better than the champion", runID: run), on: owner)
                try ledger.finish(
                    runID: run, status: .succeeded, modelVersion: model,
                    rowCountsJSON: "{\"sessions_scored\": \(BIQueriesTests.sessions.count), \"evaluation_prefixes\": 4321}", timingsJSON: timings,
                    metricsJSON: metrics, error: nil, on: owner)
                return (run, model)
            }
            // The first model predates recorded lineage: its hyperparameters are empty.
            let first = try night(
                day: BIQueriesTests.firstDay, parent: nil, hyperparameters: "{}",
                metrics: #"{"candidate": {"p@20": 49.5, "mrr@20": 17.75, "p@10": 40, "mrr@10": 17}, "popularity": {"p@20": 20, "mrr@20": 5, "p@10": 12, "mrr@10": 4.5}}"#,
                timings: #"{"ingest": 1.5, "train": 28, "score": 4}"#)
            var fixture = Fixture(owner: owner, analyst: try Connection(database.withUser(analystName)), firstModel: first.model, secondModel: 0)
            try fixture.publish(day: BIQueriesTests.firstDay, model: first.model, run: first.run, sessions: BIQueriesTests.sessions)
            let second = try night(
                day: BIQueriesTests.secondDay, parent: first.model,
                hyperparameters: hyperparameters(configuration: "danser", epochs: 2, learningRate: 0.0001),
                metrics: #"{"candidate": {"p@20": 51.25, "mrr@20": 18.5, "p@10": 42, "mrr@10": 18}, "champion": {"p@20": 49.5, "mrr@20": 17.75, "p@10": 40, "mrr@10": 17}, "popularity": {"p@20": 20, "mrr@20": 5, "p@10": 12, "mrr@10": 4.5}, "session_kNN": {"p@20": 53, "mrr@20": 19, "p@10": 44, "mrr@10": 18.5}}"#,
                timings: #"{"ingest": 1.5, "train": 30.5, "score": 4.25}"#)
            fixture = Fixture(owner: owner, analyst: fixture.analyst, firstModel: first.model, secondModel: second.model, secondRun: second.run)
            let clicks = [0] + (0..<BIQueriesTests.catalogue).map { BIQueriesTests.clicks(ofItem: $0) }
            let denominator = Double(totalClicks + Int64(BIQueriesTests.catalogue))
            try FeatureRepository().saveStatistics(
                NormalizationStatisticsRecord(
                    clickCounts: clicks, logPriors: clicks.map { Float(log(Double($0 + 1) / denominator)) }, totalClicks: totalClicks,
                    sessionPriorMean: -4.5, sessionPriorSD: 0.75, learnedScalarsJSON: #"{"b0": 0.25, "b1": -0.5, "rho": 1.5}"#),
                version: second.model, on: owner)
            try fixture.publish(day: BIQueriesTests.secondDay, model: second.model, run: second.run, sessions: BIQueriesTests.sessions)
            let failed = try ledger.start(command: "nightly", asOfDay: BIQueriesTests.secondDay + 1, host: "test", pid: 1, on: owner)
            try ledger.finish(
                runID: failed, status: .failed, modelVersion: nil, rowCountsJSON: "{}", timingsJSON: #"{"ingest": 0.5}"#,
                metricsJSON: "{}", error: "too little data", on: owner)
            return fixture
        }

        /// Publishes a day the way the nightly job does: staging, COPY, swap in one transaction.
        func publish(day: Int32, model: Int64, run: Int64 = 1, sessions: [Int]) throws {
            let publisher = RecommendationPublisher()
            try owner.withTransaction { connection in
                let staging = try publisher.createStaging(day: day, on: connection)
                try publisher.copy(into: staging, day: day, modelVersion: model, runID: run, on: connection) { write in
                    for session in sessions { try write(BIQueriesTests.rows(session: session, day: day)) }
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
