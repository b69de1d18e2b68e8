import Foundation
import Testing

@testable import FeatureStore

@Suite struct MigrationTests {
    @Test func migrationsApplyOnceAndAreIdempotent() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        let migrator = Migrator(try ProjectFiles.migrations())
        let first = try migrator.apply(on: connection)
        #expect(first.applied.count == migrator.migrations.count)
        #expect(first.alreadyApplied == 0)
        let second = try migrator.apply(on: connection)
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == migrator.migrations.count)
        #expect(try migrator.pending(on: connection).isEmpty)
        for table in ["click_log", "items", "models", "item_embeddings", "normalization_stats", "recommendations", "runs", "quarantine", "watermarks", "imports"] {
            #expect(try connection.query("SELECT to_regclass($1) IS NOT NULL", [.text("danser.\(table)")]).scalar() == .bool(true), "missing \(table)")
        }
        #expect(try connection.query("SELECT to_regclass('bi.recommendations_current') IS NOT NULL").scalar() == .bool(true))
    }

    @Test func editedMigrationIsAnErrorNotARerun() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        let original = try ProjectFiles.migrations()
        try Migrator(original).apply(on: connection)
        var edited = original
        edited[0] = Migration(version: original[0].version, name: original[0].name, sql: original[0].sql + "\n-- edited\n")
        do {
            try Migrator(edited).apply(on: connection)
            Issue.record("an edited migration was accepted")
        } catch let error as FeatureStoreError {
            #expect(error.code == .migrationMismatch)
            #expect(error.message.contains(original[0].name))
        }
        #expect(throws: FeatureStoreError.self) { try Migrator(edited).pending(on: connection) }
        // Dropping a migration file the database already has is also refused.
        #expect(throws: FeatureStoreError.self) { try Migrator(Array(original.dropLast())).apply(on: connection) }
    }

    @Test func newMigrationIsAppliedAfterTheOthers() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        let original = try ProjectFiles.migrations()
        try Migrator(original).apply(on: connection)
        let next = Migration(version: 9_999, name: "9999_test", sql: "CREATE TABLE danser.extra (id int);")
        #expect(try Migrator(original + [next]).apply(on: connection).applied == [next])
    }

    @Test func itemsAreNeverRenumbered() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        try connection.query("INSERT INTO danser.items (item_index, external_id, first_seen, last_seen) VALUES (1, 'a', now(), now())")
        #expect(throws: FeatureStoreError.self) { try connection.query("UPDATE danser.items SET item_index = 2") }
        #expect(throws: FeatureStoreError.self) { try connection.query("DELETE FROM danser.items") }
        try connection.query("UPDATE danser.items SET click_count = 5")
    }
}

/// Roles are cluster-wide, so this suite runs its tests one at a time.
@Suite(.serialized) struct RoleTests {
    @Test func biRoleReadsTheViewsAndNeverWrites() throws {
        let database = try ProjectFiles.migratedDatabase()
        let admin = try Connection(database)
        try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: admin)
        try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: admin)  // idempotent
        let analyst = "analyst_\(UInt32.random(in: 0...UInt32.max))"
        try admin.query("CREATE ROLE \(analyst) LOGIN IN ROLE danser_bi")

        // A day published before the analyst looks, through a partition made by the job role.
        let job = "job_\(UInt32.random(in: 0...UInt32.max))"
        try admin.query("CREATE ROLE \(job) LOGIN IN ROLE danser_job")
        let jobConnection = try Connection(database.withUser(job))
        try publish(day: "2026-01-01", items: ["a", "b"], on: jobConnection)

        let bi = try Connection(database.withUser(analyst))
        let rows = try bi.query("SELECT session_id, rank, item_id, model_version, as_of FROM bi.recommendations_current ORDER BY rank").rows()
        #expect(rows.count == 2)
        #expect(rows.first?[2] == .text("a"))

        // A partition created later is visible without any new grant.
        try publish(day: "2026-01-02", items: ["c", "d", "e"], on: jobConnection)
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_current").scalar() == .int64(3))
        #expect(try bi.query("SELECT count(*) FROM bi.recommendations_history").scalar() == .int64(5))
        #expect(try bi.query("SELECT count(*) FROM bi.runs").scalar() == .int64(0))

        // Never writes, never reads the tables behind the views.
        for statement in [
            "INSERT INTO bi.recommendations_current (session_id, rank, item_id, score, model_version, as_of, run_id) VALUES ('s', 9, 'x', 1, 1, '2026-01-02', 1)",
            "DELETE FROM bi.recommendations_current",
            "UPDATE bi.runs SET status = 'failed'",
            "SELECT * FROM danser.recommendations",
            "INSERT INTO danser.click_log VALUES ('s', 'i', now(), NULL)",
            "CREATE TABLE bi.mine (x int)",
        ] {
            do {
                try bi.query(statement)
                Issue.record("BI role could run: \(statement)")
            } catch let error as FeatureStoreError {
                // 42501: no privilege; 55000: the view cannot take writes at all.
                #expect(["42501", "55000"].contains(error.sqlState), "\(statement): \(error)")
            }
        }
    }

    /// The job role publishes a day in rank parts (migration 0017) with no DDL of its own, and
    /// cannot write the published parts afterwards.
    @Test func jobRolePublishesADayInPartsAndCannotRewriteThem() throws {
        let database = try ProjectFiles.migratedDatabase()
        let admin = try Connection(database)
        try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: admin)
        let job = "job_\(UInt32.random(in: 0...UInt32.max))"
        try admin.query("CREATE ROLE \(job) LOGIN IN ROLE danser_job")
        let jobConnection = try Connection(database.withUser(job))
        let publisher = RecommendationPublisher()
        let day: Int32 = 20_455  // 2026-01-02
        for item in ["a", "b"] {  // the second publication replaces the first
            let staging = try publisher.createStaging(day: day, k: 4, streams: 2, on: jobConnection)
            try publisher.copy(into: staging, day: day, modelVersion: 7, runID: 1, on: jobConnection) { write in
                try write((1...4).map { RecommendationRow(sessionID: "s1", rank: Int16($0), itemID: item, score: 0.5) })
            }
            try jobConnection.withTransaction { try publisher.publish(day: day, runID: 1, modelVersion: 7, sessions: 1, on: $0) }
        }
        #expect(try jobConnection.query("SELECT count(*), min(item_id) FROM danser.recommendations").rows().first == [.int64(4), .text("b")])
        for part in ["recommendations_20260102_p0", "recommendations_20260102_p1"] {
            for statement in [
                "UPDATE danser.\(part) SET item_id = 'x'", "DELETE FROM danser.\(part)", "TRUNCATE danser.\(part)",
                "INSERT INTO danser.\(part) VALUES ('2026-01-02', 's2', 1, 'x', 0.5, 7, 1)",
                "SELECT danser.key_recommendations_staging_part('\(part)')",
            ] {
                do {
                    try jobConnection.query(statement)
                    Issue.record("the job role could run: \(statement)")
                } catch let error as FeatureStoreError {
                    #expect(["42501", "42P01"].contains(error.sqlState), "\(statement): \(error)")
                }
            }
        }
    }

    /// Publishes a day as the job does: staging table, then the job's publishing function.
    private func publish(day: String, items: [String], on connection: Connection) throws {
        try connection.withTransaction { connection in
            let staging = try #require(try connection.query("SELECT danser.create_recommendations_staging($1::date)", [.text(day)]).scalar()?.stringValue)
            for (rank, item) in items.enumerated() {
                try connection.query(
                    "INSERT INTO danser.\(staging) VALUES ($1::date, 's1', $2, $3, 0.5, 7, 1)",
                    [.text(day), .int16(Int16(rank + 1)), .text(item)])
            }
            try connection.query("SELECT danser.publish_recommendations_day($1::date, 1, 7, 1)", [.text(day)])
        }
    }

    /// The job role on a current schema: no DDL needed, and no way to rewrite the migration
    /// record or published history except through its own functions.
    @Test func jobRoleNeedsNoDDLAndCannotRewriteHistory() throws {
        let database = try ProjectFiles.migratedDatabase()
        let admin = try Connection(database)
        try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: admin)
        let job = "job_\(UInt32.random(in: 0...UInt32.max))"
        try admin.query("CREATE ROLE \(job) LOGIN IN ROLE danser_job")
        let jobConnection = try Connection(database.withUser(job))
        // Nothing pending: the migrator only reads.
        #expect(try Migrator(try ProjectFiles.migrations()).apply(on: jobConnection).applied.isEmpty)
        try publish(day: "2026-01-01", items: ["a", "b"], on: jobConnection)
        try publish(day: "2026-01-01", items: ["c"], on: jobConnection)  // a rerun republishes through the function
        #expect(try jobConnection.query("SELECT count(*) FROM danser.recommendations").scalar() == .int64(1))
        for statement in [
            "DELETE FROM danser.schema_migrations",
            "UPDATE danser.schema_migrations SET checksum = 'x'",
            "INSERT INTO danser.schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
            "UPDATE danser.published_recommendations SET model_version = 1",
            "DELETE FROM danser.published_recommendations",
            "INSERT INTO danser.published_recommendations (as_of, run_id, model_version, sessions) VALUES ('2026-02-01', 1, 1, 1)",
            "UPDATE danser.recommendations SET item_id = 'x'",
            "UPDATE danser.recommendations_20260101 SET item_id = 'x'",
            "DELETE FROM danser.recommendations_20260101",
            "INSERT INTO danser.recommendations_20260101 VALUES ('2026-01-01', 's2', 1, 'x', 0.5, 7, 1)",
            "TRUNCATE danser.recommendations_20260101",
            "SELECT danser.publish_recommendations('2026-01-01', 1, 1, 1)",
            "CREATE TABLE danser.mine (x int)",
        ] {
            do {
                try jobConnection.query(statement)
                Issue.record("the job role could run: \(statement)")
            } catch let error as FeatureStoreError {
                #expect(error.sqlState == "42501", "\(statement): \(error)")
            }
        }
    }
}
