import Foundation
import Testing

@testable import FeatureStore

/// The registry's history (migration 0012): every status change is recorded with its login and
/// reasons, whoever makes it; an operator's plan is a compare-and-swap that a retry cannot apply
/// twice; the job role cannot write the history, and analysts read it.
@Suite(.serialized) struct ModelRegistryHistoryTests {
    let day: Int32 = 20_784

    func store(_ count: Int, on connection: Connection) throws -> [Int64] {
        try (0..<count).map { index in
            try ModelRegistry().insert(
                parentVersion: nil, mode: .retrain, asOfDay: day + Int32(index), trainedThroughMicros: 0, itemCount: 3, dim: 2,
                hyperparametersJSON: #"{"evaluation_days": 1}"#, metricsJSON: "{}", fingerprint: "f\(index)", checkpoint: [0],
                runID: nil, on: connection)
        }
    }

    func transitions(_ connection: Connection) throws -> [[PostgresValue]] {
        try connection.query("""
            SELECT model_version, from_status, to_status, action, reason, operator_reason, actor FROM danser.model_transitions ORDER BY transition_id
            """).rows()
    }

    @Test func everyStatusChangeIsRecordedWithItsLoginAndReasons() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let registry = ModelRegistry()
        let versions = try store(2, on: connection)
        try registry.promote(version: versions[0], change: .gate("no champion yet", runID: nil), on: connection)
        try registry.promote(
            version: versions[1], change: RegistryChange(.promote, reason: "promoted by an operator", operatorReason: "hotfix"), on: connection)
        try connection.query("UPDATE danser.models SET status = 'rejected' WHERE model_version = $1", [.int64(versions[0])])
        let user = PostgresValue.text(connection.user)
        #expect(try transitions(connection) == [
            [.int64(1), .null, .text("candidate"), .text("train"), .text("stored by the run that trained it"), .null, user],
            [.int64(2), .null, .text("candidate"), .text("train"), .text("stored by the run that trained it"), .null, user],
            [.int64(1), .text("candidate"), .text("champion"), .text("gate"), .text("no champion yet"), .null, user],
            [.int64(1), .text("champion"), .text("retired"), .text("promote"), .text("promoted by an operator"), .text("hotfix"), user],
            [.int64(2), .text("candidate"), .text("champion"), .text("promote"), .text("promoted by an operator"), .text("hotfix"), user],
            [.int64(1), .text("retired"), .text("rejected"), .text("manual"), .text("status changed outside danser-batch"), .null, user],
        ])
        // The reasons were the transaction's own: a later change outside the job carries none of them.
        let history = try registry.transitions(version: versions[1], on: connection)
        #expect(history.map(\.toStatus) == [.candidate, .champion])
        #expect(history.last?.operatorReason == "hotfix")
    }

    /// A rollback applied, then applied again (a retry after its commit landed), changes the
    /// registry once; a plan made against a champion that has since changed changes nothing.
    @Test func aPlanAppliesOnceAndNeverOverAChangedChampion() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let registry = ModelRegistry()
        let versions = try store(3, on: connection)
        for version in versions { try registry.promote(version: version, change: .gate("better", runID: nil), on: connection) }
        let rollback = RegistryPlan(
            change: RegistryChange(.rollback, reason: "rollback from model 3 to model 2"), championBefore: 3, championAfter: 2,
            steps: [
                .init(version: 3, from: .champion, to: .rejected, note: "rolled back by an operator"),
                .init(version: 2, from: .retired, to: .champion, note: "restored by rollback from model 3"),
            ])
        #expect(try registry.apply(rollback, on: connection) == .applied)
        let afterFirst = try transitions(connection).count
        #expect(try registry.apply(rollback, on: connection) == .alreadyApplied)
        #expect(try registry.champion(on: connection)?.version == 2)
        #expect(try registry.record(version: 1, on: connection)?.status == .retired)
        #expect(try transitions(connection).count == afterFirst)

        // Someone promoted model 1 since this plan was made: nothing changes, and the answer says why.
        try registry.promote(version: 1, change: RegistryChange(.promote, reason: "promoted by an operator"), on: connection)
        let stale = RegistryPlan(
            change: RegistryChange(.rollback, reason: "rollback from model 2 to model 1"), championBefore: 2, championAfter: 3,
            steps: [.init(version: 2, from: .champion, to: .rejected, note: "x"), .init(version: 3, from: .retired, to: .champion, note: "x")])
        guard case .conflict(let how) = try registry.apply(stale, on: connection) else {
            Issue.record("a stale plan was applied")
            return
        }
        #expect(how.contains("the champion is model 1, not model 2"), "\(how)")
        #expect(try registry.champion(on: connection)?.version == 1)
    }

    @Test func theJobCannotWriteTheHistoryAndAnalystsReadIt() throws {
        let database = try ProjectFiles.migratedDatabase()
        let admin = try Connection(database)
        try Migrator.applyRoles(script: ProjectFiles.rolesScript, on: admin)
        let suffix = UInt32.random(in: 0...UInt32.max)
        try admin.query("CREATE ROLE job_\(suffix) LOGIN IN ROLE danser_job")
        try admin.query("CREATE ROLE analyst_\(suffix) LOGIN IN ROLE danser_bi")
        let job = try Connection(database.withUser("job_\(suffix)"))
        let registry = ModelRegistry()
        let versions = try store(1, on: job)
        try registry.promote(version: versions[0], change: .gate("no champion yet", runID: nil), on: job)
        for statement in [
            "INSERT INTO danser.model_transitions (model_version, to_status, action) VALUES (1, 'champion', 'promote')",
            "UPDATE danser.model_transitions SET actor = 'someone else'",
            "DELETE FROM danser.model_transitions",
            "TRUNCATE danser.model_transitions",
        ] {
            do {
                try job.query(statement)
                Issue.record("the job role could run: \(statement)")
            } catch let error as FeatureStoreError {
                #expect(error.sqlState == "42501", "\(statement): \(error)")
            }
        }
        let analyst = try Connection(database.withUser("analyst_\(suffix)"))
        let rows = try analyst.query("SELECT model_version, to_status, action, actor FROM bi.model_transitions ORDER BY transition_id").rows()
        #expect(rows == [
            [.int64(1), .text("candidate"), .text("train"), .text("job_\(suffix)")],
            [.int64(1), .text("champion"), .text("gate"), .text("job_\(suffix)")],
        ])
        let model = try analyst.query("SELECT last_change_action, last_change_actor FROM bi.models").rows()
        #expect(model == [[.text("gate"), .text("job_\(suffix)")]])
    }
}
