@testable import FeatureStore
import Foundation
import Testing

/// The registry's operator commands as an operator runs them, on three nights whose models were
/// each promoted: a dry run changes nothing and says what would; a rollback whose commit landed
/// but whose acknowledgement was lost is retried without rolling back twice; every change is in
/// the history with its login and `--reason`; retire and `--expected-champion` refuse what they
/// must.
@Suite(.serialized) struct ModelRegistryEndToEndTests {
    static let nights = ["2026-11-25", "2026-11-26", "2026-11-27"]

    /// A database whose three nights each promoted their model: 1 and 2 retired, 3 the champion.
    /// Shared by the tests below; only the first changes the registry, and the second reads
    /// nothing that it changes.
    static let shared: Result<ConnectionConfiguration, any Error> = Result { try threeChampions() }

    static func threeChampions() throws -> ConnectionConfiguration {
        let database = try Harness.makeDatabase()
        let migrate = try Harness.run(["migrate"], database: database)
        guard migrate.status == 0 else { throw FeatureStoreError(.configuration, "migrate: \(migrate.stderr)") }
        let clicks = Harness.scratchFolder + "/registry-\(UInt32.random(in: 0...UInt32.max)).csv.gz"
        let generate = try Harness.run(
            ["generate", "--output", clicks, "--sessions", "600", "--items", "100", "--days", "6", "--end", "2026-11-28"], database: nil)
        guard generate.status == 0 else { throw FeatureStoreError(.configuration, "generate: \(generate.stderr)") }
        let imported = try Harness.run(["import", clicks], database: database)
        guard imported.status == 0 else { throw FeatureStoreError(.configuration, "import: \(imported.stderr)") }
        for night in nights {
            let run = try Harness.run(
                ["nightly", "--as-of", night, "--mode", "retrain", "--epochs", "1", "--tolerance", "100", "--threads", "1"], database: database)
            guard run.status == 0 else { throw FeatureStoreError(.configuration, "nightly \(night): \(run.stderr.suffix(1500))") }
        }
        return database
    }

    static func statuses(_ connection: Connection) throws -> [String] {
        try connection.query("SELECT status FROM danser.models ORDER BY model_version").rows().map { $0[0].stringValue ?? "?" }
    }

    @Test func operatorChangesAreRecordedPlannedOnceAndNeverDoubled() throws {
        let database = try Self.shared.get()
        let connection = try Connection(database)
        #expect(try Self.statuses(connection) == ["retired", "retired", "champion"])
        // The gate's automatic promotions are in the history, by the job's login.
        let gate = try connection.query("""
            SELECT model_version, from_status, to_status, actor, run_id IS NOT NULL FROM danser.model_transitions
            WHERE action = 'gate' ORDER BY transition_id
            """).rows()
        #expect(gate.map { [$0[0], $0[1], $0[2]] } == [
            [.int64(1), .text("candidate"), .text("champion")],
            [.int64(1), .text("champion"), .text("retired")], [.int64(2), .text("candidate"), .text("champion")],
            [.int64(2), .text("champion"), .text("retired")], [.int64(3), .text("candidate"), .text("champion")],
        ])
        #expect(gate.allSatisfy { $0[3] == .text(connection.user) && $0[4] == .bool(true) })

        // A dry run says exactly what would change, and changes nothing.
        let historyBefore = try connection.query("SELECT count(*) FROM danser.model_transitions").scalar()
        let dry = try Harness.run(["models", "rollback", "--dry-run", "--reason", "bad night"], database: database)
        #expect(dry.status == 0, "\(dry.stderr)")
        for line in ["model 3: champion -> rejected", "model 2: retired -> champion", "champion: model 3 -> model 2", "operator reason \"bad night\"", "nothing has changed"] {
            #expect(dry.stdout.contains(line), "dry run lacks '\(line)': \(dry.stdout)")
        }
        #expect(try Self.statuses(connection) == ["retired", "retired", "champion"])
        #expect(try connection.query("SELECT count(*) FROM danser.model_transitions").scalar() == historyBefore)
        #expect(try connection.query("SELECT count(*) FROM danser.runs WHERE command LIKE 'models%'").scalar() == .int64(0))

        // The commit lands, its acknowledgement is lost, the command is retried: one rollback only.
        let rollback = try Harness.run(
            ["models", "rollback", "--reason", "bad night"], database: database,
            environment: ["DANSER_TEST_LOSE_ACKNOWLEDGEMENT": "models", "DANSER_RETRY_DELAY_SECONDS": "0.1"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(try Self.statuses(connection) == ["retired", "champion", "rejected"])
        #expect(try connection.query("SELECT attempts FROM danser.runs WHERE command = 'models rollback'").scalar()?.int64Value == 2)
        let rolledBack = try connection.query("""
            SELECT model_version, from_status, to_status, operator_reason, actor, run_id = (SELECT run_id FROM danser.runs WHERE command = 'models rollback')
            FROM danser.model_transitions WHERE action = 'rollback' ORDER BY transition_id
            """).rows()
        #expect(rolledBack.map { [$0[0], $0[1], $0[2], $0[3], $0[5]] } == [
            [.int64(3), .text("champion"), .text("rejected"), .text("bad night"), .bool(true)],
            [.int64(2), .text("retired"), .text("champion"), .text("bad night"), .bool(true)],
        ])
        #expect(rolledBack.allSatisfy { $0[4] == .text(connection.user) })

        // A manual retry guarded by --expected-champion changes nothing once the first landed.
        let again = try Harness.run(["models", "rollback", "--expected-champion", "3"], database: database)
        #expect(again.status == 64, "\(again.stderr)")
        #expect(again.stderr.contains("the champion is model 2, not model 3"), "\(again.stderr)")
        #expect(try Self.statuses(connection) == ["retired", "champion", "rejected"])

        // Retire: never the champion; another model leaves every automatic choice.
        let retireChampion = try Harness.run(["models", "retire", "2"], database: database)
        #expect(retireChampion.status == 64, "\(retireChampion.stderr)")
        let retire = try Harness.run(["models", "retire", "1", "--reason", "superseded"], database: database)
        #expect(retire.status == 0, "\(retire.stderr)")
        #expect(try Self.statuses(connection) == ["archived", "champion", "rejected"])
        let noTarget = try Harness.run(["models", "rollback"], database: database)
        #expect(noTarget.status == 64, "model 1 is archived, so there is no rollback target: \(noTarget.stderr)")

        // The history, as the operator and as BI read it.
        let history = try Harness.run(["models", "history", "1"], database: database)
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("retired -> archived") && history.stdout.contains("operator: superseded"), "\(history.stdout)")
        let models = try connection.query(
            "SELECT last_change_action, last_change_reason, base_version FROM bi.models WHERE model_version = 1").rows()
        #expect(models.first.map { [$0[0], $0[1]] } == [.text("retire"), .text("superseded")])
    }

    /// `models list` groups models by the window they were evaluated on, each model followed by
    /// the contenders measured on that same window.
    @Test func listGroupsFiguresByEvaluationWindow() throws {
        let database = try Self.shared.get()
        let list = try Harness.run(["models", "list"], database: database)
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        let headers = lines.filter { $0.hasPrefix("evaluated on ") }
        #expect(headers == ["evaluated on 2026-11-26 (UTC):", "evaluated on 2026-11-25 (UTC):", "evaluated on 2026-11-24 (UTC):"])
        #expect(list.stdout.contains("compare figures only within one window"))
        // Night 2's champion row names model 1, the model it was compared with on the same days.
        #expect(lines.contains { $0.contains("same window: champion (model 1)") }, "\(list.stdout)")
    }
}
