import Foundation
import Testing

@testable import FeatureStore

/// Runs `danser-batch prune` against a real PostgreSQL holding ten published days, one
/// never-published partition and seven models with lineage, statuses and embeddings.
@Suite struct PruneEndToEndTests {
    static let firstDay: Int32 = 20_758  // 2026-11-01

    /// Model of each published day 1...10: 1, 1, 2, 2, 4, 4, 6, 6, 7, 7 (model 7 is the champion).
    static let dayModels: [Int64] = [1, 1, 2, 2, 4, 4, 6, 6, 7, 7]

    func prepare() throws -> ConnectionConfiguration {
        let database = try Harness.makeDatabase()
        let migrated = try Harness.run(["migrate"], database: database)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let connection = try Connection(database)
        let registry = ModelRegistry()
        // (parent, mode, outcome): 1 retrain, 2 fine-tune of 1, 3 rejected, 4 retrain, 5 rejected
        // fine-tune of 4, 6 fine-tune of 4, 7 fine-tune of 6. Retired at the end: 1, 2, 4, 6.
        let models: [(Int64?, ModelMode, Bool)] = [
            (nil, .retrain, true), (1, .fineTune, true), (2, .fineTune, false), (nil, .retrain, true),
            (4, .fineTune, false), (4, .fineTune, true), (6, .fineTune, true),
        ]
        for (index, (parent, mode, promoted)) in models.enumerated() {
            let version = try registry.insert(
                parentVersion: parent, mode: mode, asOfDay: Self.firstDay + Int32(index), trainedThroughMicros: 0, itemCount: 3, dim: 1,
                hyperparametersJSON: "{}", metricsJSON: "{}", fingerprint: "f\(index)", checkpoint: [0], runID: nil, on: connection)
            #expect(version == Int64(index + 1))
            if promoted {
                try registry.promote(version: version, change: .gate("test", runID: nil), on: connection)
            } else {
                try registry.reject(version: version, change: .gate("test", runID: nil), on: connection)
            }
            try connection.query(
                "INSERT INTO danser.item_embeddings VALUES ($1, 0, 0, 1, 1, 'raw', 'float32', 0, '\\x00')", [.int64(version)])
            try connection.query(
                "INSERT INTO danser.normalization_stats VALUES ($1, 10, 3, 0, 1, '{}')", [.int64(version)])
        }
        let publisher = RecommendationPublisher()
        for (offset, model) in Self.dayModels.enumerated() {
            let day = Self.firstDay + Int32(offset)
            try connection.withTransaction { connection in
                let staging = try publisher.createStaging(day: day, on: connection)
                try publisher.copy(into: staging, day: day, modelVersion: model, runID: Int64(offset + 1), on: connection) { write in
                    try write((1...3).map { RecommendationRow(sessionID: "s\(offset)", rank: Int16($0), itemID: "i\($0)", score: 1 / Float($0)) })
                }
                try publisher.publish(day: day, runID: Int64(offset + 1), modelVersion: model, sessions: 1, auditJSON: #"{"rows": 3}"#, on: connection)
            }
        }
        // A partition a killed run left behind, never published.
        try connection.query("SELECT danser.ensure_recommendations_partition('2026-10-20')")
        return database
    }

    func state(_ database: ConnectionConfiguration) throws -> (days: [String], partitions: Int64, models: [Int64], embeddings: Int64, stats: Int64) {
        let connection = try Connection(database)
        let days = try connection.query("SELECT to_char(as_of, 'YYYY-MM-DD') FROM danser.published_recommendations ORDER BY as_of").rows().map { $0[0].stringValue ?? "" }
        let partitions = try connection.query(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'danser.recommendations'::regclass").scalar()?.int64Value ?? -1
        let models = try connection.query("SELECT model_version FROM danser.models ORDER BY 1").rows().map { $0[0].int64Value ?? 0 }
        let embeddings = try connection.query("SELECT count(*) FROM danser.item_embeddings").scalar()?.int64Value ?? -1
        let stats = try connection.query("SELECT count(*) FROM danser.normalization_stats").scalar()?.int64Value ?? -1
        return (days, partitions, models, embeddings, stats)
    }

    @Test func dryRunListsAndChangesNothingThenPruneRemovesExactlyThat() throws {
        let database = try prepare()
        let before = try state(database)
        #expect(before.days.count == 10 && before.partitions == 11 && before.models == [1, 2, 3, 4, 5, 6, 7])

        let dry = try Harness.run(["prune", "--keep-days", "3", "--keep-models", "1", "--dry-run"], database: database)
        #expect(dry.status == 0, "\(dry.stderr)")
        for line in [
            "newest published day 2026-11-10 stays; keeping days from 2026-11-07",
            "would drop day 2026-11-06 (run 6, model 4, sessions 1)",
            "would drop day 2026-11-01 (run 1, model 1, sessions 1)",
            "would drop day 2026-10-20 (a partition that was never published)",
            "would delete model 5 (rejected, fine-tune, as of 2026-11-05)",
            "would delete model 1 (retired, retrain, as of 2026-11-01)",
            "kept model 7 (champion): champion",
            "kept model 6 (retired): previous champion, the rollback target",
            "kept model 4 (retired): ancestor of model 7",
            "dry run: 7 days and 4 models would go; nothing changed",
        ] {
            #expect(dry.stdout.contains(line + "\n"), "missing \(line) in:\n\(dry.stdout)")
        }
        let afterDry = try state(database)
        #expect(afterDry.days == before.days && afterDry.partitions == before.partitions && afterDry.models == before.models)

        let pruned = try Harness.run(["prune", "--keep-days", "3", "--keep-models", "1"], database: database)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("7 days dropped, 4 models deleted"), "\(pruned.stdout)")
        let after = try state(database)
        #expect(after.days == ["2026-11-07", "2026-11-08", "2026-11-09", "2026-11-10"])
        #expect(after.partitions == 4)
        #expect(after.models == [4, 6, 7])
        #expect(after.embeddings == 3 && after.stats == 3)  // cascaded with their models
        let connection = try Connection(database)
        #expect(try connection.query("SELECT to_regclass('danser.recommendations_20261101') IS NULL").scalar() == .bool(true))
        #expect(try connection.query("SELECT DISTINCT as_of FROM bi.recommendations_current").scalar() == .date(Self.firstDay + 9))
        #expect(try connection.query("SELECT count(*) FROM bi.recommendations_history").scalar() == .int64(12))

        let again = try Harness.run(["prune", "--keep-days", "3", "--keep-models", "1"], database: database)
        #expect(again.status == 0)
        #expect(again.stdout.contains("0 days dropped, 0 models deleted"), "\(again.stdout)")

        // keep-days 0 keeps only the current day; the champion's lineage and the rollback target stay.
        let tight = try Harness.run(["prune", "--keep-days", "0", "--keep-models", "0"], database: database)
        #expect(tight.status == 0, "\(tight.stderr)")
        let last = try state(database)
        #expect(last.days == ["2026-11-10"] && last.partitions == 1 && last.models == [4, 6, 7])
    }

    @Test func optionsOutOfRangeAndAHeldLockAreRefused() throws {
        let database = try prepare()
        for (arguments, text) in [
            (["prune", "--keep-days=-1", "--keep-models", "2"], "--keep-days -1 is out of range"),
            (["prune", "--keep-days", "40000", "--keep-models", "2"], "--keep-days 40000 is out of range"),
            (["prune", "--keep-days", "3", "--keep-models=-2"], "--keep-models -2 is out of range"),
            (["prune", "--keep-days", "3"], "--keep-models"),
            (["prune", "--keep-days", "three", "--keep-models", "2"], "three"),
        ] {
            let run = try Harness.run(arguments, database: database)
            #expect(run.status == 64, "\(arguments): \(run.status) \(run.stderr)")
            #expect(run.stderr.contains(text), "\(arguments): \(run.stderr)")
        }
        // While a nightly run holds the job lease, prune does nothing and says who holds it (exit 4).
        try RunEnvelopeEndToEndTests.holdLease(database, purpose: "nightly 2026-11-11", runID: 11, host: "batch-1.example", pid: 4321)
        let locked = try Harness.run(["prune", "--keep-days", "0", "--keep-models", "0"], database: database)
        #expect(locked.status == 4, "\(locked.stderr)")
        #expect(locked.stderr.contains("the job lease is held by run 11 (nightly 2026-11-11) on host batch-1.example, pid 4321"), "\(locked.stderr)")
        #expect(try state(database).days.count == 10)
    }

    /// The job role runs prune (it calls the definer function and deletes models) without being
    /// able to create schemas; a missing migration is refused with exit 78 instead of applied.
    @Test func runsAsTheJobRole() throws {
        let database = try prepare()
        let owner = try Connection(database)
        let script = try String(contentsOfFile: Harness.projectRoot + "/sql/roles.sql", encoding: .utf8)
        for attempt in 1...5 {  // roles are cluster-wide: another test may apply them at the same moment
            do {
                try Migrator.applyRoles(script: script, on: owner)
                break
            } catch where attempt < 5 {
                Thread.sleep(forTimeInterval: 0.2 * Double(attempt))
            }
        }
        let job = "job_\(UInt32.random(in: 0...UInt32.max))"
        try owner.query("CREATE ROLE \(job) LOGIN IN ROLE danser_job")
        let pruned = try Harness.run(["prune", "--keep-days", "3", "--keep-models", "1"], database: database.withUser(job))
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("7 days dropped, 4 models deleted"), "\(pruned.stdout)")
        #expect(try state(database).models == [4, 6, 7])

        try owner.query("DELETE FROM danser.schema_migrations WHERE version = 3")
        let behind = try Harness.run(["prune", "--keep-days", "3", "--keep-models", "1"], database: database.withUser(job))
        #expect(behind.status == 78, "\(behind.stderr)")
        #expect(behind.stderr.contains("0003_nightly_publication") && behind.stderr.contains("danser-batch migrate"), "\(behind.stderr)")
    }
}
