@testable import FeatureStore
import Foundation
import Testing

/// A small synthetic history, migrated with roles, run night by night as a login in
/// `danser_job` (never the owner); shared by the suites below. CI runs it on a release build.
enum JobRoleNight {
    struct Setup {
        var database: ConnectionConfiguration
        var job: ConnectionConfiguration
        var bi: ConnectionConfiguration
        var runs: [String: Harness.Run]
    }

    static let nights = ["2026-11-26", "2026-11-27"]
    static let common = ["--epochs", "1", "--finetune-epochs", "1", "--log-format", "json", "--tolerance", "100"]

    static let setup: Result<Setup, any Error> = Result {
        let database = try Harness.makeDatabase()
        let migrate = try Harness.run(["migrate", "--roles"], database: database)
        guard migrate.status == 0 else { throw FeatureStoreError(.configuration, "migrate --roles: \(migrate.stderr)") }
        let admin = try Connection(database)
        let suffix = UInt32.random(in: 0...UInt32.max)
        try admin.query("CREATE ROLE job_\(suffix) LOGIN IN ROLE danser_job")
        try admin.query("CREATE ROLE bi_\(suffix) LOGIN IN ROLE danser_bi")
        let job = database.withUser("job_\(suffix)"), bi = database.withUser("bi_\(suffix)")
        let clicks = Harness.scratchFolder + "/job-night-\(suffix).csv.gz"
        let generate = try Harness.run(
            ["generate", "--output", clicks, "--sessions", "1500", "--items", "300", "--days", "6", "--end", "2026-11-28"], database: nil)
        guard generate.status == 0 else { throw FeatureStoreError(.configuration, "generate: \(generate.stderr)") }
        var runs: [String: Harness.Run] = [:]
        runs["import"] = try Harness.run(["import", clicks, "--log-format", "json"], database: job)
        for night in nights {
            runs["nightly \(night)"] = try Harness.run(["nightly", "--as-of", night] + common, database: job)
        }
        runs["score"] = try Harness.run(["score", "--as-of", "2026-11-27", "--log-format", "json"], database: job)
        runs["backfill"] = try Harness.run(
            ["backfill", "--from", "2026-11-25", "--to", "2026-11-25"] + common, database: job)
        runs["models"] = try Harness.run(["models", "list"], database: job)
        runs["prune"] = try Harness.run(["prune", "--keep-days", "30", "--keep-models", "10"], database: job)
        return Setup(database: database, job: job, bi: bi, runs: runs)
    }
}

/// Least privilege that works: the job role does the whole job without DDL; the BI role can
/// write nothing at all. Then checksums on every read, on the same night.
@Suite(.serialized) struct LeastPrivilegeEndToEndTests {
    @Test func theJobRoleRunsEveryCommandWithoutDDL() throws {
        let setup = try JobRoleNight.setup.get()
        for (name, run) in setup.runs.sorted(by: { $0.key < $1.key }) {
            #expect(run.status == 0, "\(name) as danser_job: exit \(run.status): \(run.stderr.suffix(1500))")
        }
        let connection = try Connection(setup.database)
        #expect(try connection.query("SELECT count(*) FROM danser.published_recommendations").scalar() == .int64(3))
        // models promote as the job role (the current champion again).
        let champion = try #require(try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value)
        let promote = try Harness.run(["models", "promote", "\(champion)"], database: setup.job)
        #expect(promote.status == 0, "\(promote.stderr)")
    }

    @Test func theBIRoleCanWriteNothing() throws {
        let setup = try JobRoleNight.setup.get()
        let admin = try Connection(setup.database)
        let bi = try Connection(setup.bi)
        let relations = try admin.query("""
            SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('danser', 'bi') AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1
            """).rows().compactMap { $0.first?.stringValue }
        #expect(relations.count > 15)
        var statements: [String] = ["CREATE TABLE bi.mine (x int)", "CREATE TABLE danser.mine (x int)", "CREATE SCHEMA mine"]
        for relation in relations {
            statements += [
                "INSERT INTO \(relation) DEFAULT VALUES", "UPDATE \(relation) SET \(try firstColumn(relation, admin)) = \(try firstColumn(relation, admin))",
                "DELETE FROM \(relation)", "TRUNCATE \(relation)",
            ]
        }
        // Each function by its schema-qualified name and argument count: regprocedure's text
        // leaves the schema out when it is on the admin's search path (a superuser named danser).
        let functions = try admin.query("""
            SELECT format('%I.%I', n.nspname, p.proname), p.pronargs FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'danser'
            """).rows()
        for function in functions {
            guard let name = function.first?.stringValue, let count = function.last?.int64Value else { continue }
            let nulls = Array(repeating: "NULL", count: Int(count)).joined(separator: ", ")
            statements.append("SELECT \(name)(\(nulls))")
        }
        for statement in statements {
            do {
                try bi.query(statement)
                Issue.record("the BI role could run: \(statement)")
            } catch let error as FeatureStoreError {
                // 42501: no privilege; 55000: a view that takes no writes; 42809: TRUNCATE of a view;
                // 428C9: the view's identity column refuses the UPDATE before privileges are checked.
                #expect(["42501", "55000", "42809", "428C9"].contains(error.sqlState), "\(statement): \(error)")
            }
        }
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_current").scalar()?.int64Value ?? 0 > 0)
    }

    private func firstColumn(_ relation: String, _ connection: Connection) throws -> String {
        try connection.query("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1", [.text(relation)])
            .scalar()?.stringValue ?? "x"
    }

    // Checksums on every read (same night, so in this serialized suite): what a command will
    // serve is verified before it serves it, and a corrupt training checkpoint names the
    // command that discards it.

    @Test func promoteVerifiesEverythingItWillServe() throws {
        let setup = try JobRoleNight.setup.get()
        let admin = try Connection(setup.database)
        let versions = try admin.query("SELECT model_version FROM danser.models WHERE status <> 'champion' ORDER BY model_version").rows()
            .compactMap { $0.first?.int64Value }
        let champion = try admin.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value
        let version = try #require(versions.first)
        // A flipped byte in the checkpoint, then in the statistics: each refused, champion unchanged.
        try admin.query("UPDATE danser.models SET checkpoint = set_byte(checkpoint, 200, get_byte(checkpoint, 200) # 1) WHERE model_version = $1", [.int64(version)])
        let badCheckpoint = try Harness.run(["models", "promote", "\(version)"], database: setup.job)
        #expect(badCheckpoint.status == 65, "\(badCheckpoint.stderr)")
        #expect(badCheckpoint.stderr.contains("checkpoint"), "\(badCheckpoint.stderr)")
        try admin.query("UPDATE danser.models SET checkpoint = set_byte(checkpoint, 200, get_byte(checkpoint, 200) # 1) WHERE model_version = $1", [.int64(version)])
        try admin.query("UPDATE danser.item_statistics SET click_count = click_count + 1 WHERE model_version = $1 AND item_index = 1", [.int64(version)])
        let badStatistics = try Harness.run(["models", "promote", "\(version)"], database: setup.job)
        #expect(badStatistics.status == 65, "\(badStatistics.stderr)")
        #expect(badStatistics.stderr.contains("normalization statistics"), "\(badStatistics.stderr)")
        #expect(try admin.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value == champion)
        try admin.query("UPDATE danser.item_statistics SET click_count = click_count - 1 WHERE model_version = $1 AND item_index = 1", [.int64(version)])
    }

    @Test func scoreVerifiesThePublishedEmbeddings() throws {
        let setup = try JobRoleNight.setup.get()
        let admin = try Connection(setup.database)
        let champion = try #require(try admin.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value)
        let flip = "UPDATE danser.item_embeddings SET blob = set_byte(blob, 40, get_byte(blob, 40) # 1) WHERE model_version = $1 AND chunk_index = 0"
        try admin.query(flip, [.int64(champion)])
        defer { _ = try? admin.query(flip, [.int64(champion)]) }
        let score = try Harness.run(["score", "--as-of", "2026-11-27", "--log-format", "json"], database: setup.job)
        #expect(score.status == 65, "\(score.stderr.suffix(1000))")
        #expect(score.stderr.contains("embedding"), "\(score.stderr.suffix(1000))")
    }

    @Test func aCorruptTrainingCheckpointNamesTheCommandThatDiscardsIt() throws {
        let setup = try JobRoleNight.setup.get()
        let admin = try Connection(setup.database)
        let night = JobRoleNight.nights[1]
        // The checkpoint an interrupted retraining of the night would resume from, damaged; the
        // night's model is set aside so that a rerun trains again and finds it.
        let model = try #require(try admin.query(
            "SELECT fingerprint, mode FROM danser.models WHERE as_of = $1::date ORDER BY model_version DESC LIMIT 1", [.text(night)]).rows().first)
        let fingerprint = try #require(model[0].stringValue)
        let mode = ["--mode", model[1].stringValue == "retrain" ? "retrain" : "finetune"]  // the same training again
        try admin.query("UPDATE danser.models SET fingerprint = 'set aside' WHERE fingerprint = $1", [.text(fingerprint)])
        try admin.query(
            "INSERT INTO danser.training_checkpoints (as_of, fingerprint, epoch, checkpoint) VALUES ($1::date, $2, 1, '\\x0102'::bytea)",
            [.text(night), .text(fingerprint)])
        let failed = try Harness.run(["nightly", "--as-of", night, "--rerun"] + mode + JobRoleNight.common, database: setup.job)
        #expect(failed.status == 65, "\(failed.stderr.suffix(1500))")
        #expect(failed.stderr.contains("danser-batch nightly --as-of \(night) --discard-checkpoint"), "\(failed.stderr.suffix(1500))")
        let again = try Harness.run(["nightly", "--as-of", night, "--rerun", "--discard-checkpoint"] + mode + JobRoleNight.common, database: setup.job)
        #expect(again.status == 0, "\(again.stderr.suffix(1500))")
        #expect(try admin.query("SELECT count(*) FROM danser.training_checkpoints").scalar() == .int64(0))
    }
}
