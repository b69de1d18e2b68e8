@testable import FeatureStore
import Foundation
import Testing

/// The nightly job run as a scheduler runs it, against a real PostgreSQL, on the real
/// YOOCHOOSE 100k sample (skipped where ../shared is absent). CI points DANSER_BATCH_BINARY at a
/// release build so training takes seconds.
@Suite(.serialized) struct NightlyEndToEndTests {
    /// The contest (tuning every contender each night) is left to ContestEndToEndTests, to keep CI short.
    static let common = ["--epochs", "1", "--finetune-epochs", "1", "--log-format", "json", "--tolerance", "100", "--contenders", "none"]

    /// A fresh database with both YOOCHOOSE files imported, or nil without ../shared.
    static func importedDatabase() throws -> ConnectionConfiguration? {
        guard let samples = Harness.samplesFolder else { return nil }
        let database = try Harness.makeDatabase()
        let run = try Harness.run(
            ["import", samples + "/yoochoose-clicks-100k-train.tsv", samples + "/yoochoose-clicks-100k-test.tsv", "--log-format", "json"],
            database: database)
        #expect(run.status == 0, "\(run.stderr)")
        return database
    }

    static func nightly(_ asOf: String, _ extra: [String] = [], database: ConnectionConfiguration, environment: [String: String] = [:]) throws -> Harness.Run {
        try Harness.run(["nightly", "--as-of", asOf] + common + extra, database: database, environment: environment)
    }

    /// What BI sees: every current row, in a stable order (run ids left out: a rerun has its own),
    /// with a fallback row's click count in place of its (NULL) score.
    static func published(_ database: ConnectionConfiguration) throws -> [String] {
        let connection = try Connection(database)
        let result = try connection.query(
            "SELECT as_of::text, session_id, rank, item_id, coalesce(score, fallback_clicks)::text FROM bi.recommendations_current ORDER BY session_id, rank")
        return try result.rows().map { row in row.map { $0.stringValue ?? $0.int64Value.map(String.init) ?? "?" }.joined(separator: "|") }
    }

    @Test func retrainThenFineTuneThenRerunChangesNothing() throws {
        guard let database = try Self.importedDatabase() else {
            print("skipped: ../shared/data/samples is not here")
            return
        }
        let first = try Self.nightly("2014-04-07", ["--mode", "retrain"], database: database)
        #expect(first.status == 0, "\(first.stderr.suffix(2000))")
        let second = try Self.nightly("2014-04-08", ["--mode", "finetune"], database: database)
        #expect(second.status == 0, "\(second.stderr.suffix(2000))")

        let connection = try Connection(database)
        let models = try connection.query("SELECT model_version, mode, parent_version, status FROM danser.models ORDER BY model_version").rows()
        #expect(models.count == 2)
        #expect(models.map { $0[1].stringValue } == ["retrain", "fine-tune"])
        #expect(models[1][2].int64Value == models[0][0].int64Value)
        // The fine-tune records how it started: 0.3 of its parent's weights by default.
        let keep = try connection.query("SELECT hyperparameters ->> 'finetune_keep' FROM danser.models ORDER BY model_version").rows()
        #expect(keep.map { $0[0].stringValue } == [nil, "0.3"], "\(keep)")
        // Both ran their finishing pass (30 days by default) and recorded whether validation kept it.
        let finish = try connection.query(
            "SELECT hyperparameters ->> 'finish_days', hyperparameters ->> 'finished' FROM danser.models ORDER BY model_version").rows()
        #expect(finish.map { $0[0].stringValue } == ["30", "30"] && finish.allSatisfy { ["true", "false"].contains($0[1].stringValue) }, "\(finish)")
        #expect(first.stderr.contains("finishing pass done") && second.stderr.contains("finishing pass done"), "\(first.stderr.suffix(2000))")

        // The ledger holds P@20 and MRR@20 of the candidate, the champion and both baselines.
        let metrics = try connection.query("SELECT metrics::text FROM danser.runs WHERE command = 'nightly' AND as_of = '2014-04-08' AND status = 'succeeded'").scalar()?.stringValue ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(metrics.utf8)) as? [String: Any] ?? [:]
        for name in ["candidate", "champion", "popularity", "session_kNN"] {
            let scores = object[name] as? [String: Double]
            #expect(scores?["p@20"] != nil && scores?["mrr@20"] != nil, "\(name) in \(metrics)")
        }
        let candidateP20 = (object["candidate"] as? [String: Double])?["p@20"] ?? 0
        let popularityP20 = (object["popularity"] as? [String: Double])?["p@20"] ?? 100
        #expect(candidateP20 > popularityP20)

        // BI: top 20 of one session in one query, and which model made it and when.
        let session = try connection.query("SELECT session_id FROM bi.recommendations_current LIMIT 1").scalar()?.stringValue ?? ""
        let top = try connection.query("SELECT rank, item_id FROM bi.recommendations_current WHERE session_id = $1 ORDER BY rank", [.text(session)])
        #expect(top.rowCount == 20)
        let provenance = try connection.query("SELECT DISTINCT model_version, as_of::text, published_at IS NOT NULL FROM bi.recommendations_current").rows()
        #expect(provenance.count == 1 && provenance[0][1].stringValue == "2014-04-08")

        // bi.days counts the day as published; the fallback rows the job wrote are marked, with
        // their click counts out of score; every model shows its run, window and source.
        let day = try connection.query("SELECT sessions, recommendation_rows, fallback_sessions FROM bi.days WHERE as_of = '2014-04-08'").rows()
        let counted = try connection.query("""
            SELECT count(DISTINCT session_id), count(*), count(DISTINCT session_id) FILTER (WHERE is_fallback) FROM bi.recommendations_current
            """).rows()
        #expect(day == counted && day.count == 1)
        let ledgerFallback = try connection.query(
            "SELECT (row_counts ->> 'fallback_sessions')::bigint FROM danser.runs WHERE command = 'nightly' AND as_of = '2014-04-08' AND status = 'succeeded'"
        ).scalar()
        #expect(day.first?[2] == ledgerFallback)
        let fallbackWithScore = try connection.query(
            "SELECT count(*) FROM bi.recommendations_current WHERE is_fallback AND (score IS NOT NULL OR fallback_clicks IS NULL)").scalar()
        #expect(fallbackWithScore == .int64(0))
        let lineage = try connection.query("""
            SELECT mode, run_id IS NOT NULL, training_from IS NOT NULL, training_until = evaluation_from, source_table, hyperparameters ? 'configuration_name'
            FROM bi.models ORDER BY model_version
            """).rows()
        #expect(lineage == [
            [.text("retrain"), .bool(true), .bool(false), .bool(true), .text("danser.click_log"), .bool(true)],
            [.text("fine-tune"), .bool(true), .bool(true), .bool(true), .text("danser.click_log"), .bool(true)],
        ])
        // bi.models.epochs is the epoch kept on validation, as the ledger says, beside the cap and
        // the epochs run; a fine-tune whose base won on validation kept 0.
        let epochs = try connection.query("""
            SELECT m.epochs, (m.hyperparameters ->> 'max_epochs')::int, (m.hyperparameters ->> 'epochs_trained')::int,
                   (r.stage_results -> 'train' ->> 'epochs_kept')::int
            FROM bi.models m JOIN danser.runs r USING (run_id) ORDER BY m.model_version
            """).rows()
        #expect(epochs.first == [.int32(1), .int32(1), .int32(1), .int32(1)])
        #expect(epochs.count == 2 && epochs[1][1...2] == [.int32(1), .int32(1)] && epochs[1][0] == epochs[1][3])
        #expect(epochs.count == 2 && [.int32(0), .int32(1)].contains(epochs[1][0]))

        // A rerun of a finished date is a no-op: same rows, same publication.
        let before = try Self.published(database)
        let stamp = try connection.query("SELECT run_id, published_at::text FROM danser.published_recommendations WHERE as_of = '2014-04-08'").rows()
        let again = try Self.nightly("2014-04-08", ["--mode", "finetune"], database: database)
        #expect(again.status == 0)
        #expect(again.stdout.contains("already completed"))
        #expect(try Self.published(database) == before)
        #expect(try connection.query("SELECT run_id, published_at::text FROM danser.published_recommendations WHERE as_of = '2014-04-08'").rows() == stamp)
    }

    @Test func aSecondConcurrentRunIsSkipped() throws {
        guard let database = try Self.importedDatabase() else { return }
        let first = try Harness.start(["nightly", "--as-of", "2014-04-07"] + Self.common, database: database, environment: ["DANSER_TEST_HOLD_SCORING_SECONDS": "60"])
        defer { first.kill() }
        try Self.waitFor(database, "SELECT count(*) FROM danser.runs WHERE status = 'running'")
        let metrics = Harness.scratchFolder + "/metrics-\(UUID().uuidString)"
        let second = try Self.nightly("2014-04-07", ["--metrics-dir", metrics], database: database)
        #expect(second.status == 4)
        // The skip reaches monitoring: the textfile says the last run was skipped.
        let textfile = (try? String(contentsOfFile: metrics + "/danser_batch.prom", encoding: .utf8)) ?? ""
        #expect(textfile.contains("danser_batch_last_run_status{status=\"skipped\"} 1"))
        let skipped = try Connection(database).query("SELECT count(*) FROM danser.runs WHERE status = 'skipped' AND error LIKE '%job lease is held by run%'").scalar()?.int64Value
        #expect(skipped == 1)
    }

    @Test func killedDuringTrainingThenRerunGivesTheSamePublishedState() throws {
        guard let reference = try Self.importedDatabase(), let killed = try Self.importedDatabase() else { return }
        let options = ["--mode", "retrain", "--epochs", "2"]
        #expect(try Self.nightly("2014-04-07", options, database: reference).status == 0)
        let expected = try Self.published(reference)
        #expect(expected.count > 1_000)

        // SIGKILL once the first epoch's checkpoint is in the database; the rerun resumes there.
        let training = try Harness.start(["nightly", "--as-of", "2014-04-07"] + Self.common + options, database: killed)
        try Self.waitFor(killed, "SELECT count(*) FROM danser.training_checkpoints")
        training.kill()
        #expect(try Self.published(killed).isEmpty)
        let resumed = try Self.nightly("2014-04-07", options, database: killed)
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(2000))")
        #expect(resumed.stderr.contains("resuming training"))
        #expect(try Self.published(killed) == expected)
    }

    @Test func killedDuringScoringKeepsThePreviousDayAndTheRerunMatches() throws {
        guard let twin = try Self.importedDatabase(), let killed = try Self.importedDatabase() else { return }
        let options = ["--mode", "retrain"]
        #expect(try Self.nightly("2014-04-06", options, database: twin).status == 0)
        #expect(try Self.nightly("2014-04-07", options, database: twin).status == 0)
        let expected = try Self.published(twin)

        #expect(try Self.nightly("2014-04-06", options, database: killed).status == 0)
        let previousDay = try Self.published(killed)
        let scoring = try Harness.start(
            ["nightly", "--as-of", "2014-04-07"] + Self.common + options, database: killed,
            environment: ["DANSER_TEST_HOLD_SCORING_SECONDS": "60"])
        try Self.waitFor(killed, "SELECT count(*) FROM pg_tables WHERE tablename = 'recommendations_staging_20140407'")
        scoring.kill()
        // Readers still see the whole previous day, never a partial new one.
        #expect(try Self.published(killed) == previousDay)
        let rerun = try Self.nightly("2014-04-07", options, database: killed)
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(2000))")
        #expect(rerun.stderr.contains("reusing it"))
        #expect(try Self.published(killed) == expected)
        // The killed run is closed as abandoned, with the stage it died in.
        let abandoned = try Connection(killed).query("SELECT count(*) FROM danser.runs WHERE status = 'abandoned' AND error LIKE '%last stage score%'").scalar()?.int64Value
        #expect(abandoned == 1)
    }

    @Test func shardedScoringPublishesOnlyWhenEveryShardIsDoneAndMatchesOneProcess() throws {
        guard let database = try Self.importedDatabase() else { return }
        let trained = try Self.nightly("2014-04-07", ["--mode", "retrain", "--skip-score"], database: database)
        #expect(trained.status == 0, "\(trained.stderr.suffix(2000))")
        #expect(try Self.published(database).isEmpty)
        for shard in 0..<3 {
            let run = try Harness.run(["score", "--as-of", "2014-04-07", "--shard", "\(shard)/3", "--log-format", "json"], database: database)
            #expect(run.status == 0, "\(run.stderr.suffix(2000))")
            // Nothing is visible until the last shard is in.
            #expect(try Self.published(database).isEmpty == (shard < 2))
        }
        let sharded = try Self.published(database)
        #expect(sharded.count > 1_000)
        let whole = try Harness.run(["score", "--as-of", "2014-04-07", "--log-format", "json"], database: database)
        #expect(whole.status == 0)
        // Batches group other sessions in one process than in three, and sgemm's blocking follows
        // the batch, so scores may differ in the last bits. Every (day, session, rank) is the same
        // and so is its score; two items whose scores tie to within that can trade places, which a
        // handful of rows in a hundred thousand may show, never a systematic difference.
        let single = try Self.published(database)
        func key(_ rows: [String]) -> [String] { rows.map { $0.split(separator: "|").prefix(3).joined(separator: "|") } }
        func withoutScore(_ rows: [String]) -> [String] { rows.map { $0.split(separator: "|").dropLast().joined(separator: "|") } }
        func scores(_ rows: [String]) -> [Double] { rows.map { Double($0.split(separator: "|").last ?? "") ?? .nan } }
        #expect(key(single) == key(sharded))
        #expect(zip(scores(single), scores(sharded)).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($0)) })
        let traded = zip(withoutScore(single), withoutScore(sharded)).filter { $0 != $1 }
        #expect(traded.count <= single.count / 1_000, "items at different ranks: \(traded.prefix(10))")
        #expect(try Harness.run(["score", "--shard", "3/3"], database: database).status == 64)
    }

    /// `--sampled-softmax-above 0`: the night trains with the sampled softmax however small the
    /// catalogue, publishes its day, and the train stage's result says which softmax it used.
    @Test func aNightTrainedWithTheSampledSoftmaxIsPublished() throws {
        let (database, connection) = try HistoryWindowEndToEndTests.longSourceDatabase()
        let run = try Self.nightly(
            "2025-06-01",
            ["--source-table", "public.long_clicks", "--history-days", "30", "--min-item-clicks", "1", "--mode", "retrain", "--top-k", "5",
             "--sampled-softmax-above", "0", "--sampled-negatives", "4"],
            database: database)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let train = try HistoryWindowEndToEndTests.stageRecord(connection, "train", asOf: "2025-06-01")
        #expect(train["trained"] as? Bool == true, "\(train)")
        #expect(train["softmax"] as? String == "sampled (4 negatives)", "\(train)")
        // The day is published: the eight sessions of 2025-05-31, five items each, by the night's model.
        let day = try connection.query("SELECT min(as_of)::text, count(DISTINCT session_id), count(*), min(model_version) FROM bi.recommendations_current").rows()
        let model = try connection.query("SELECT model_version FROM danser.models").scalar()?.int64Value
        #expect(day.first?[0].stringValue == "2025-06-01" && day.first?[1].int64Value == 8 && day.first?[2].int64Value == 40, "\(day)")
        #expect(model != nil && day.first?[3].int64Value == model, "\(day) \(String(describing: model))")
    }

    /// Polls until `sql` returns a count above zero (at most two minutes).
    static func waitFor(_ database: ConnectionConfiguration, _ sql: String, timeout: Double = 120) throws {
        let connection = try Connection(database)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try connection.query(sql).scalar()?.int64Value ?? 0) > 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out waiting for: \(sql)")
    }
}
