@testable import FeatureStore
import Foundation
import Testing

/// The guarantees a night must keep, each tried as the findings were seen: the release
/// binary, a real PostgreSQL, the YOOCHOOSE 100k sample (skipped where ../shared is absent).
/// The sample's last clicks are on 2014-04-07 (and a few on 04-08).
@Suite(.serialized) struct TrustEndToEndTests {
    typealias Nightly = NightlyEndToEndTests

    /// Finding 1: a day with nothing to score never replaces a good one, whichever command asks;
    /// retention never measures from such a day; an explicit option publishes an empty day.
    @Test func anEmptyDayNeverReplacesAGoodOne() throws {
        guard let database = try Nightly.importedDatabase() else { return }
        let good = try Nightly.nightly("2014-04-08", ["--mode", "retrain"], database: database)
        #expect(good.status == 0, "\(good.stderr.suffix(2000))")
        let current = try Nightly.published(database)
        #expect(current.count > 1_000)

        // The day after the last click: no session was active.
        let late = try Nightly.nightly("2014-04-10", database: database)
        #expect(late.status == 6, "\(late.stderr.suffix(1000))")
        #expect(late.stderr.contains("no clicks between") && late.stderr.contains("--allow-empty-day"))
        #expect(try Nightly.published(database) == current)

        // Rescoring the good day from a source that lost its clicks (forgotten options, wrong table).
        let connection = try Connection(database)
        try connection.query("CREATE TABLE public.clicks_elsewhere (session_id text, item_id text, event_time timestamptz)")
        let rescored = try Harness.run(
            ["score", "--as-of", "2014-04-08", "--source-table", "public.clicks_elsewhere", "--log-format", "json"], database: database)
        #expect(rescored.status == 6, "\(rescored.stderr.suffix(1000))")
        #expect(try Nightly.published(database) == current)
        let failed = try connection.query(
            "SELECT count(*) FROM danser.runs WHERE status = 'failed' AND error LIKE '%no clicks%'").scalar()?.int64Value
        #expect(failed == 2)

        // Retention measures from the good day, which stays.
        let prune = try Harness.run(["prune", "--keep-days", "0", "--keep-models", "0", "--dry-run"], database: database)
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(prune.stdout.contains("newest published day 2014-04-08 stays"), "\(prune.stdout)")

        // On purpose, an empty day is published, with its audit.
        let empty = try Nightly.nightly("2014-04-10", ["--allow-empty-day"], database: database)
        #expect(empty.status == 0, "\(empty.stderr.suffix(2000))")
        let audit = try connection.query("SELECT audit->>'empty_day_allowed' FROM danser.published_recommendations WHERE as_of = '2014-04-10'").scalar()?.stringValue
        #expect(audit == "true")
    }

    /// Finding 2: SIGTERM while scoring, after the candidate was promoted, then a rerun: the same
    /// rows (content hash) and the same model lineage as an uninterrupted twin. The ledger says
    /// where the run stopped (finding 7: the stage is recorded).
    @Test func aRerunAfterAnInterruptionPastPromotionConverges() throws {
        guard let twin = try Nightly.importedDatabase(), let interrupted = try Nightly.importedDatabase() else { return }
        let uninterrupted = try Nightly.nightly("2014-04-07", database: twin)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr.suffix(2000))")

        let scoring = try Harness.start(
            ["nightly", "--as-of", "2014-04-07"] + Nightly.common, database: interrupted,
            environment: ["DANSER_TEST_HOLD_SCORING_SECONDS": "20", "DANSER_TEST_HOLD_STAGE": "score:2"])
        try Nightly.waitFor(interrupted, "SELECT count(*) FROM danser.models WHERE status = 'champion'")
        try Nightly.waitFor(interrupted, "SELECT count(*) FROM pg_tables WHERE tablename = 'recommendations_staging_20140407'")
        #expect(scoring.terminate() == 5)
        let connection = try Connection(interrupted)
        let stopped = try connection.query("SELECT status, stage FROM danser.runs WHERE command = 'nightly'").rows()
        #expect(stopped.count == 1 && stopped[0][0].stringValue == "interrupted" && stopped[0][1].stringValue == "score", "\(stopped)")

        let rerun = try Nightly.nightly("2014-04-07", database: interrupted)
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(2000))")
        #expect(try Self.contentHash(interrupted, "2014-04-07") == Self.contentHash(twin, "2014-04-07"))
        #expect(try Self.lineage(interrupted) == Self.lineage(twin))
        #expect(try Nightly.published(interrupted) == Nightly.published(twin))

        // Finding 7: the finished run recorded every stage's result.
        let results = try connection.query(
            "SELECT stage, stage_results::text FROM danser.runs WHERE command = 'nightly' AND status = 'succeeded'").rows()
        #expect(results.first?[0].stringValue == "publish_recommendations")
        let object = try JSONSerialization.jsonObject(with: Data((results.first?[1].stringValue ?? "{}").utf8)) as? [String: Any] ?? [:]
        #expect(Set(object.keys) == ["ingest", "prepare", "train", "score", "publish_recommendations"], "\(object.keys)")
    }

    /// Finding 5: shards that chose the champion before a rerun promoted a new one never publish
    /// the retired model over the rerun's day.
    @Test func shardsOfARetiredModelDoNotPublish() throws {
        guard let database = try Nightly.importedDatabase() else { return }
        let trained = try Nightly.nightly("2014-04-07", ["--mode", "retrain", "--skip-score"], database: database)
        #expect(trained.status == 0, "\(trained.stderr.suffix(2000))")
        // Shard 0 scores with the champion of now, then waits before publishing until released.
        let release = Harness.scratchFolder + "/release-\(UUID().uuidString)"
        let slowShard = try Harness.start(
            ["score", "--as-of", "2014-04-07", "--shard", "0/2", "--log-format", "json"], database: database,
            environment: ["DANSER_TEST_HOLD_STAGE": "publish_recommendations:300", "DANSER_TEST_HOLD_RELEASE": release])
        try Nightly.waitFor(database, "SELECT count(*) FROM danser.runs WHERE command = 'score' AND stage = 'publish_recommendations'")
        let otherShard = try Harness.run(["score", "--as-of", "2014-04-07", "--shard", "1/2", "--log-format", "json"], database: database)
        #expect(otherShard.status == 0, "\(otherShard.stderr.suffix(1000))")

        // The shards hold the job lease among themselves: a rerun cannot change the champion
        // under them; it is refused, naming the shard that holds the lease.
        let refused = try Nightly.nightly("2014-04-07", ["--rerun", "--mode", "retrain", "--seed", "2"], database: database)
        #expect(refused.status == 4, "\(refused.stderr.suffix(2000))")
        #expect(refused.stdout.contains("shard 0/2"), "\(refused.stdout)")
        #expect(slowShard.process.isRunning, "the shard's hold ended before the rerun was tried: the test proves nothing")
        FileManager.default.createFile(atPath: release, contents: nil)
        #expect(slowShard.wait() == 0)
        // Once the set is published, the rerun runs and its champion serves.
        let rerun = try Nightly.nightly("2014-04-07", ["--rerun", "--mode", "retrain", "--seed", "2"], database: database)
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(2000))")
        let connection = try Connection(database)
        let champion = try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value
        let served = try connection.query("SELECT DISTINCT model_version FROM bi.recommendations_current").rows().map { $0[0].int64Value }
        #expect(served == [champion])
    }

    /// Finding 6: a backfilled date older than the champion is trained, evaluated and scored on
    /// clicks before it only, and the champion that serves the newest date stays.
    @Test func backfillIsPointInTime() throws {
        guard let database = try Nightly.importedDatabase() else { return }
        let newest = try Nightly.nightly("2014-04-08", ["--mode", "retrain"], database: database)
        #expect(newest.status == 0, "\(newest.stderr.suffix(2000))")
        let connection = try Connection(database)
        let champion = try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value

        let plan = try Harness.run(["backfill", "--from", "2014-04-06", "--to", "2014-04-07", "--dry-run"] + Nightly.common, database: database)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("2014-04-06: would run") && plan.stdout.contains("no model of an earlier date"), "\(plan.stdout)")

        let backfill = try Harness.run(["backfill", "--from", "2014-04-06", "--to", "2014-04-07"] + Nightly.common, database: database)
        #expect(backfill.status == 0, "\(backfill.stderr.suffix(2000))")
        #expect(try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value == champion)
        // Every published day was scored by a model of its date or earlier, trained on clicks before it.
        let days = try connection.query("""
            SELECT p.as_of::text, m.as_of::text, m.trained_through < (p.as_of::timestamp AT TIME ZONE 'UTC'), m.parent_version
            FROM danser.published_recommendations p JOIN danser.models m ON m.model_version = p.model_version ORDER BY p.as_of
            """).rows()
        #expect(days.count == 3)
        for day in days {
            #expect((day[1].stringValue ?? "") <= (day[0].stringValue ?? ""), "\(day)")
            #expect(day[2].boolValue == true, "\(day)")
        }
        // No backfilled model descends from the newer champion.
        let descendants = try connection.query("SELECT count(*) FROM danser.models WHERE parent_version = $1", [.int64(champion ?? 0)]).scalar()?.int64Value
        #expect(descendants == 0)

        // `score` of a date older than the champion's would be scored by a model that has seen the
        // date's future: refused (usage), naming backfill; the day and the champion stay.
        let before = try connection.query("SELECT model_version, run_id FROM danser.published_recommendations WHERE as_of = '2014-04-06'").rows()
        let rescore = try Harness.run(["score", "--as-of", "2014-04-06", "--log-format", "json"], database: database)
        #expect(rescore.status == 64, "\(rescore.stderr.suffix(1000))")
        #expect(rescore.stderr.contains("not point in time") && rescore.stderr.contains("backfill --from 2014-04-06 --to 2014-04-06"), "\(rescore.stderr.suffix(1000))")
        #expect(try connection.query("SELECT model_version, run_id FROM danser.published_recommendations WHERE as_of = '2014-04-06'").rows() == before)
        #expect(try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value == champion)
        let refused = try connection.query("SELECT status FROM danser.runs WHERE command = 'score' ORDER BY run_id DESC LIMIT 1").scalar()?.stringValue
        #expect(refused == "failed")
    }

    /// Bad input: a time column that is not a time, a missing table, and a source with no clicks
    /// for the date each fail at once with a message naming the option.
    @Test func badSourcesFailClearly() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let connection = try Connection(database)
        try connection.query("CREATE TABLE public.text_times (session_id text, item_id text, event_time text)")
        try connection.query("CREATE TABLE public.epoch_times (session_id text, item_id text, seen bigint)")
        try connection.query("INSERT INTO public.text_times VALUES ('s', 'i', '2014-04-06 10:00:00+00')")
        try connection.query("INSERT INTO public.epoch_times VALUES ('s', 'i', 1396778400)")
        let options = Nightly.common + ["--as-of", "2014-04-07"]

        let text = try Harness.run(["nightly", "--source-table", "public.text_times"] + options, database: database)
        #expect(text.status == 78, "\(text.stderr)")
        #expect(text.stderr.contains("event_time") && text.stderr.contains("text") && text.stderr.contains("--time-column"))
        let epoch = try Harness.run(["nightly", "--source-table", "public.epoch_times", "--time-column", "seen"] + options, database: database)
        #expect(epoch.status == 78, "\(epoch.stderr)")
        #expect(epoch.stderr.contains("seen") && epoch.stderr.contains("bigint"))

        let missing = try Harness.run(["nightly", "--source-table", "public.no_such_clicks"] + options, database: database)
        #expect(missing.status == 78, "\(missing.stderr)")
        #expect(missing.stderr.contains("public.no_such_clicks") && missing.stderr.contains("--source-table"))

        // The default source exists but has no click before the date.
        let empty = try Harness.run(["nightly"] + options, database: database)
        #expect(empty.status == 6, "\(empty.stderr)")
        #expect(empty.stderr.contains("danser.click_log has no clicks"))
        #expect(try connection.query("SELECT count(*) FROM danser.published_recommendations").scalar()?.int64Value == 0)
    }

    /// A hash of one day's published rows, as they are stored.
    static func contentHash(_ database: ConnectionConfiguration, _ day: String) throws -> String {
        try Connection(database).query("""
            SELECT md5(string_agg(session_id || '|' || rank || '|' || item_id || '|' || score::text, E'\\n' ORDER BY session_id, rank))
            FROM danser.recommendations WHERE as_of = $1::date
            """, [.text(day)]).scalar()?.stringValue ?? ""
    }

    /// Every model: version, mode, parent, status, date.
    static func lineage(_ database: ConnectionConfiguration) throws -> [String] {
        try Connection(database).query("SELECT model_version, mode, parent_version, status, as_of::text FROM danser.models ORDER BY model_version").rows().map { row in
            row.map { $0.stringValue ?? $0.int64Value.map(String.init) ?? "-" }.joined(separator: "|")
        }
    }
}

extension Harness.Background {
    /// SIGTERM, as a scheduler stops a run; returns the exit status once it is gone.
    func terminate() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        Foundation.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits for the process to end on its own; returns its exit status.
    func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }
}
