@testable import FeatureStore
import Foundation
import Testing

/// A night reads a bounded window of the click source however long its history: the history
/// window for a retrain (`--history-days`), only what a fine-tune needs for a fine-tune, and
/// nothing on or after as-of. Checked on the ingest stage's ledger record against counts taken
/// in SQL over a source of 400 days.
@Suite(.serialized) struct HistoryWindowEndToEndTests {
    typealias Nightly = NightlyEndToEndTests

    /// 400 days of clicks up to 2025-06-02: eight sessions of four clicks a day, plus one session
    /// that crosses the 30-day window's start (2025-05-02) and one that ends two hours before it.
    static func longSource(_ connection: Connection) throws {
        try connection.query("CREATE TABLE public.long_clicks (session_id text, item_id text, event_time timestamptz)")
        try connection.query("""
            INSERT INTO public.long_clicks
            SELECT 'd' || d || '-s' || k, 'item-' || ((k + c * (1 + k % 3)) % 12),
                   timestamptz '2025-06-02 00:00:00+00' - d * interval '1 day' + interval '10 hours' + k * interval '10 minutes' + c * interval '1 minute'
            FROM generate_series(0, 399) d, generate_series(0, 7) k, generate_series(0, 3) c
            """)
        try connection.query("""
            INSERT INTO public.long_clicks VALUES
              ('crossing', 'item-1', '2025-05-01 22:00:00+00'), ('crossing', 'item-2', '2025-05-02 01:00:00+00'),
              ('before', 'item-3', '2025-05-01 21:00:00+00'), ('before', 'item-4', '2025-05-01 22:00:00+00')
            """)
    }

    /// A fresh, migrated database holding `longSource`.
    static func longSourceDatabase() throws -> (ConnectionConfiguration, Connection) {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let connection = try Connection(database)
        try longSource(connection)
        return (database, connection)
    }

    /// The ingest stage's ledger record of the night of `asOf`.
    static func ingestRecord(_ connection: Connection, asOf: String) throws -> [String: Any] {
        try stageRecord(connection, "ingest", asOf: asOf)
    }

    /// The ledger record of `stage` in the succeeded night of `asOf`.
    static func stageRecord(_ connection: Connection, _ stage: String, asOf: String) throws -> [String: Any] {
        let text = try connection.query(
            "SELECT (stage_results -> $1)::text FROM danser.runs WHERE command = 'nightly' AND as_of = $2::date AND status = 'succeeded'",
            [.text(stage), .text(asOf)]
        ).scalar()?.stringValue ?? "{}"
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    static func count(_ connection: Connection, _ sql: String) throws -> Int {
        Int(try connection.query(sql).scalar()?.int64Value ?? -1)
    }

    @Test func aNightReadsOnlyItsWindowHoweverLongTheHistory() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let connection = try Connection(database)
        try Self.longSource(connection)
        #expect(try Self.count(connection, "SELECT count(*) FROM public.long_clicks") == 400 * 32 + 4)
        let source = ["--source-table", "public.long_clicks", "--history-days", "30", "--skip-score", "--min-item-clicks", "1"]

        // A retrain reads the 30 days before as-of, and a day before that for crossing sessions.
        let retrain = try Nightly.nightly("2025-06-01", source + ["--mode", "retrain"], database: database)
        #expect(retrain.status == 0, "\(retrain.stderr.suffix(2000))")
        let first = try Self.ingestRecord(connection, asOf: "2025-06-01")
        #expect(first["window"] as? String == "history", "\(first)")
        #expect((first["window_from"] as? String)?.hasPrefix("2025-05-02") == true, "\(first)")
        #expect((first["window_until"] as? String)?.hasPrefix("2025-06-01") == true, "\(first)")
        let read = try Self.count(connection, """
            SELECT count(*) FROM public.long_clicks WHERE event_time >= '2025-05-01 00:00:00+00' AND event_time < '2025-06-01 00:00:00+00'
            """)
        #expect(first["rows_read"] as? Int == read, "\(first)")
        // Kept: every click of the sessions that click in the window (the crossing one whole),
        // none of the session that ended before it.
        let kept = try Self.count(connection, """
            SELECT count(*) FROM public.long_clicks WHERE event_time < '2025-06-01 00:00:00+00' AND session_id IN (
              SELECT session_id FROM public.long_clicks GROUP BY session_id
              HAVING max(event_time) >= '2025-05-02 00:00:00+00' AND max(event_time) < '2025-06-01 00:00:00+00')
            """)
        #expect(kept == 30 * 32 + 2)
        #expect(first["clicks"] as? Int == kept, "\(first)")
        #expect(first["sessions"] as? Int == 30 * 8 + 1, "\(first)")

        // A fine-tune the next night on a window of 7 days reads from that window's start (the
        // base model's watermark, its last training click, is later), not the history window's.
        let finetune = try Nightly.nightly("2025-06-02", source + ["--mode", "finetune", "--finetune-window-days", "7"], database: database)
        #expect(finetune.status == 0, "\(finetune.stderr.suffix(2000))")
        let second = try Self.ingestRecord(connection, asOf: "2025-06-02")
        #expect(second["window"] as? String == "fine-tune", "\(second)")
        #expect((second["window_from"] as? String)?.hasPrefix("2025-05-25") == true, "\(second)")
        let fineTuneRead = try Self.count(connection, """
            SELECT count(*) FROM public.long_clicks WHERE event_time >= '2025-05-24 00:00:00+00' AND event_time < '2025-06-02 00:00:00+00'
            """)
        #expect(second["rows_read"] as? Int == fineTuneRead, "\(second)")
        let models = try connection.query("SELECT mode FROM danser.models ORDER BY model_version").rows().map { $0[0].stringValue }
        #expect(models == ["retrain", "fine-tune"])
    }

    /// A night of `--mode auto` that reads the fine-tune window, then finds the catalogue grew by
    /// more than 10%, retrains on the history window, read then and recorded by the prepare stage.
    @Test func aNightThatMustRetrainAfterAllReadsTheHistoryWindow() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let connection = try Connection(database)
        try Self.longSource(connection)
        let source = ["--source-table", "public.long_clicks", "--history-days", "30", "--skip-score", "--min-item-clicks", "1"]
        let first = try Nightly.nightly("2025-06-01", source + ["--mode", "retrain"], database: database)
        #expect(first.status == 0, "\(first.stderr.suffix(2000))")
        // Six new items (12 before: 50% growth), clicked in sessions of 2025-05-31, a training day of 2025-06-02.
        try connection.query("""
            INSERT INTO public.long_clicks
            SELECT 'new-' || k, 'new-item-' || ((k + c) % 6), timestamptz '2025-05-31 12:00:00+00' + k * interval '10 minutes' + c * interval '1 minute'
            FROM generate_series(0, 5) k, generate_series(0, 2) c
            """)
        let second = try Nightly.nightly("2025-06-02", source, database: database)
        #expect(second.status == 0, "\(second.stderr.suffix(2000))")
        #expect(try Self.ingestRecord(connection, asOf: "2025-06-02")["window"] as? String == "fine-tune")
        let text = try connection.query(
            "SELECT (stage_results -> 'prepare')::text FROM danser.runs WHERE command = 'nightly' AND as_of = '2025-06-02' AND status = 'succeeded'"
        ).scalar()?.stringValue ?? "{}"
        let prepare = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        #expect(prepare["mode"] as? String == "retrain", "\(prepare)")
        #expect((prepare["widened_to"] as? [String: Any])?["window"] as? String == "history", "\(prepare)")
        let read = try Self.count(connection, """
            SELECT count(*) FROM public.long_clicks WHERE event_time >= '2025-05-02 00:00:00+00' AND event_time < '2025-06-02 00:00:00+00'
            """)
        #expect(prepare["widened_rows_read"] as? Int == read, "\(prepare)")
    }

    /// `--max-training-sessions N`: a night whose window holds more training sessions trains on
    /// the N most recent, its validation window carved from them, and the prepare stage's result
    /// says how many there were.
    @Test func aNightTrainsOnAtMostTheCappedSessions() throws {
        let (database, connection) = try Self.longSourceDatabase()
        let run = try Nightly.nightly(
            "2025-06-01",
            ["--source-table", "public.long_clicks", "--history-days", "30", "--skip-score", "--min-item-clicks", "1", "--mode", "retrain",
             "--max-training-sessions", "100"],
            database: database)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("training sessions capped"), "\(run.stderr.suffix(2000))")
        // The window's training sessions: those ending from its start to the evaluation day (2025-05-31).
        let sessions = try Self.count(connection, """
            SELECT count(*) FROM (SELECT session_id FROM public.long_clicks GROUP BY session_id
              HAVING max(event_time) >= '2025-05-02 00:00:00+00' AND max(event_time) < '2025-05-31 00:00:00+00') s
            """)
        #expect(sessions == 29 * 8 + 1)
        let prepare = try Self.stageRecord(connection, "prepare", asOf: "2025-06-01")
        #expect(prepare["training_sessions"] as? Int == 100, "\(prepare)")
        #expect(prepare["training_sessions_capped_from"] as? Int == sessions, "\(prepare)")
        // 12 items, under --sampled-softmax-above: the full softmax.
        #expect(try Self.stageRecord(connection, "train", asOf: "2025-06-01")["softmax"] as? String == "full")
        // The candidate fitted and validated on the 100 kept sessions, 3 prefixes each (the most
        // recent 100 all have four clicks).
        let counts = try connection.query("""
            SELECT (row_counts ->> 'training_prefixes')::bigint + (row_counts ->> 'validation_prefixes')::bigint
            FROM danser.runs WHERE command = 'nightly' AND as_of = '2025-06-01' AND status = 'succeeded'
            """).scalar()?.int64Value
        #expect(counts == 300)
    }

    /// `--max-evaluation-sessions`: the candidate is evaluated on an evenly spread sample of the
    /// held-out day, and its epochs chosen on a sample of the validation window.
    @Test func aNightEvaluatesOnAtMostTheSampledSessions() throws {
        let (database, connection) = try Self.longSourceDatabase()
        let run = try Nightly.nightly(
            "2025-06-01",
            ["--source-table", "public.long_clicks", "--history-days", "30", "--skip-score", "--min-item-clicks", "1", "--mode", "retrain",
             "--max-evaluation-sessions", "5"],
            database: database)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("evaluation sessions sampled"), "\(run.stderr.suffix(2000))")
        // The held-out day's sessions: those ending on 2025-05-31.
        let held = try Self.count(connection, """
            SELECT count(*) FROM (SELECT session_id FROM public.long_clicks GROUP BY session_id
              HAVING max(event_time) >= '2025-05-31 00:00:00+00' AND max(event_time) < '2025-06-01 00:00:00+00') s
            """)
        #expect(held > 5)
        let prepare = try Self.stageRecord(connection, "prepare", asOf: "2025-06-01")
        #expect(prepare["evaluation_sessions"] as? Int == 5, "\(prepare)")
        #expect(prepare["evaluation_sessions_sampled_from"] as? Int == held, "\(prepare)")
        // 5 validation sessions of the 10% window (23 sessions), and 5 held-out ones: 3 prefixes
        // each, as every session of the window has four clicks.
        let prefixes = try connection.query("""
            SELECT (row_counts ->> 'validation_prefixes')::bigint, (row_counts ->> 'evaluation_prefixes')::bigint FROM danser.runs
            WHERE command = 'nightly' AND as_of = '2025-06-01' AND status = 'succeeded'
            """).rows().first
        #expect(prefixes == [.int64(15), .int64(15)], "\(String(describing: prefixes))")
    }

    /// A cap of zero or less is refused: exit 64 on the command line, 78 naming where it came
    /// from when it was the configuration file or the environment.
    @Test func aCapOfNoSessionsIsRefusedWhereverItComesFrom() throws {
        let night = ["nightly", "--as-of", "2025-06-01", "--log-format", "text"]
        let flag = try Harness.run(night + ["--max-training-sessions", "0"], database: nil)
        #expect(flag.status == 64 && flag.stderr.contains("--max-training-sessions"), "\(flag.stderr)")
        let variable = try Harness.run(night, database: nil, environment: ["DANSER_MAX_TRAINING_SESSIONS": "-5"])
        #expect(variable.status == 78 && variable.stderr.contains("env DANSER_MAX_TRAINING_SESSIONS"), "\(variable.stderr)")
        let file = try Harness.temporaryFile(Array("[training]\nmax_sessions = 0\n".utf8), suffix: ".toml")
        let configured = try Harness.run(night, database: nil, environment: ["DANSER_CONFIG": file])
        #expect(configured.status == 78 && configured.stderr.contains("file \(file):2"), "\(configured.stderr)")
    }

    /// A window too short for what the night needs is refused with the option to change.
    @Test func aWindowShorterThanTheEvaluationIsRefused() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let connection = try Connection(database)
        try Self.longSource(connection)
        let run = try Nightly.nightly(
            "2025-06-01", ["--source-table", "public.long_clicks", "--history-days", "3", "--evaluation-days", "3", "--mode", "retrain"],
            database: database)
        #expect(run.status == 64, "\(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("--history-days 3") && run.stderr.contains("--evaluation-days 3"), "\(run.stderr.suffix(2000))")
    }
}
