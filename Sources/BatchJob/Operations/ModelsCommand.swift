import ArgumentParser
import DANSeR
import FeatureStore
import Foundation
import Logging

/// `danser-batch models list|history|promote|rollback|retire`: the model registry for operators.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List models and their history; promote one to champion, roll back to the previous champion, or retire one.",
        subcommands: [ListModels.self, ModelHistory.self, PromoteModel.self, RollbackModel.self, RetireModel.self],
        defaultSubcommand: ListModels.self
    )

    struct ListModels: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "The newest models, grouped by the window they were evaluated on.",
            discussion: """
                Each model was evaluated on the held-out days before its own as_of, with the \
                champion of that night and the baselines on the same days. Figures of different \
                windows are not comparable, so the list is grouped by evaluation window, and each \
                model's row is followed by the other contenders of its window.
                """)
        @Option(help: "How many models (1 to 1,000).") var limit = 20
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1,000.") }
        }

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                let connection = try database.migratedConnection(logger: Logger(label: "danser.models"))
                for line in ModelListing(models: try ModelRegistry().list(limit: limit, on: connection)).lines { print(line) }
            }
        }
    }

    struct ModelHistory: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Every change of the registry (gate verdicts, promote, rollback, retire), oldest first, with who and why.")
        @Argument(help: "Only this model version.") var version: Int64?
        @Option(help: "How many changes, the newest (1 to 10,000).") var limit = 50
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10,000.") }
        }

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                let connection = try database.migratedConnection(logger: Logger(label: "danser.models"))
                let transitions = try ModelRegistry().transitions(version: version, limit: limit, on: connection)
                print("at                   model  change                 action    by            run    reason")
                for transition in transitions {
                    let change = "\(transition.fromStatus?.rawValue ?? "(stored)") -> \(transition.toStatus)"
                    var reason = transition.reason ?? ""
                    if let note = transition.operatorReason { reason += (reason.isEmpty ? "" : "; ") + "operator: \(note)" }
                    print([
                        pad(Timestamp.format(micros: transition.atMicros), 20), pad(String(transition.modelVersion), 6), pad(change, 22),
                        pad(transition.action, 9), pad(transition.actor, 13), pad(transition.runID.map(String.init) ?? "-", 6), reason,
                    ].joined(separator: " "))
                }
                if transitions.isEmpty { print("(no changes recorded)") }
            }
        }
    }

    /// `--reason`, `--dry-run` and `--expected-champion`, shared by the commands that change the registry.
    struct ChangeOptions: ParsableArguments {
        @Option(help: "Why, in your words; recorded with the change (bi.model_transitions.operator_reason).")
        var reason: String?

        @Flag(help: "Print exactly what would change and change nothing.")
        var dryRun = false

        @Option(help: "Change nothing unless this model version is the champion when the command starts (a compare-and-swap across manual retries).")
        var expectedChampion: Int64?

        func validate() throws {
            if let reason, reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw ValidationError("--reason is empty: give the reason in words, or leave the option out.")
            }
        }
    }

    struct PromoteModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "promote",
            abstract: "Make a model the champion (the current one is retired); the next scoring run (nightly or score) publishes with it.")
        @Argument(help: "Model version.") var version: Int64
        @OptionGroup var change: ChangeOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                try ModelsCommand.change(.promote, options: change, database: database) { registry, connection, champion in
                    try RegistryPlanner.promote(version: version, champion: champion, registry: registry, on: connection)
                }
            }
        }
    }

    struct RollbackModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rollback",
            abstract: "Make the previous champion (the newest retired model) the champion again; the current one is marked rejected.")
        @OptionGroup var change: ChangeOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                try ModelsCommand.change(.rollback, options: change, database: database) { registry, connection, champion in
                    try RegistryPlanner.rollback(champion: champion, registry: registry, on: connection)
                }
            }
        }
    }

    struct RetireModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retire",
            abstract: "Retire a model that is not the champion from the registry (status archived): never again a rollback target, a backfill's model or a rerun's.")
        @Argument(help: "Model version.") var version: Int64
        @OptionGroup var change: ChangeOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                try ModelsCommand.change(.retire, options: change, database: database) { registry, connection, champion in
                    try RegistryPlanner.retire(version: version, champion: champion, registry: registry, on: connection)
                }
            }
        }
    }

    /// Plans a change once, from the registry as it is, then (unless a dry run) applies that same
    /// plan under the job lease, in one transaction, as a compare-and-swap: a retry after a lost
    /// acknowledgement finds it applied and changes nothing. A new champion's checkpoint and
    /// features are read back and checked before the change commits. A ledger row `models <action>`.
    static func change(
        _ action: RegistryChange.Action, options: ChangeOptions, database: DatabaseOptions,
        plan makePlan: (ModelRegistry, Connection, ModelRecord?) throws -> RegistryPlan
    ) throws {
        let logger = Logger(label: "danser.models")
        let registry = ModelRegistry()
        let planning = try database.migratedConnection(logger: logger)
        let champion = try registry.champion(on: planning)
        if let expected = options.expectedChampion, expected != champion?.version {
            throw JobError(.usage, "the champion is \(champion.map { "model \($0.version)" } ?? "none"), not model \(expected) (--expected-champion): nothing changed; see danser-batch models list")
        }
        var plan = try makePlan(registry, planning, champion)
        plan.change.operatorReason = options.reason
        if options.dryRun {
            for line in RegistryPlanner.describe(plan, actor: planning.user, dryRun: true) { print(line) }
            return
        }
        let outcome = try EnvelopedCommand.run(
            command: "models \(action.rawValue)", purpose: "models \(action.rawValue)", busy: "try again when it has finished", database: database,
            logger: logger, connect: { try database.migratedConnection(logger: logger) }
        ) { connection, runID in
            var attempt = plan
            attempt.change.runID = runID
            let outcome = try connection.withTransaction { connection in
                let outcome = try registry.apply(attempt, on: connection)
                // Everything a new champion will serve is read back and checked before the change commits.
                if outcome == .applied, let version = plan.championAfter, version != plan.championBefore,
                    let model = try registry.record(version: version, on: connection)
                {
                    _ = try Checkpoint(decoding: Data(try registry.checkpoint(version: version, on: connection))).makeModel()
                    try FeatureRepository().verify(version: version, rows: model.itemCount + 1, dim: model.dim, on: connection)
                }
                return outcome
            }
            try FaultInjection.loseAcknowledgement(at: "models")
            return outcome
        }
        switch outcome {
        case .applied:
            for line in RegistryPlanner.describe(plan, actor: planning.user, dryRun: false) { print(line) }
            if let version = plan.championAfter, version != plan.championBefore {
                print("model \(version) is the champion; run danser-batch score (or the next nightly) to publish recommendations with it")
            }
        case .alreadyApplied:
            print("nothing to change: the registry is already as this \(action.rawValue) leaves it (an earlier attempt's commit landed, or the change was already made)"
                + (plan.championAfter.map { "; model \($0) is the champion" } ?? ""))
        case .conflict(let how):
            throw JobError(.conflict, "the registry changed since this command looked at it (\(how)); nothing changed: see danser-batch models list, then run the command again")
        }
    }
}

/// Decides what an operator's promote, rollback or retire changes, from the registry as it is;
/// refuses with a usage error (exit 64) what it cannot do.
enum RegistryPlanner {
    static func promote(version: Int64, champion: ModelRecord?, registry: ModelRegistry, on connection: Connection) throws -> RegistryPlan {
        guard let model = try registry.record(version: version, on: connection) else {
            throw JobError(.usage, "there is no model \(version); see danser-batch models list")
        }
        let change = RegistryChange(.promote, reason: "promoted by an operator")
        guard model.status != .champion else {
            return RegistryPlan(change: change, championBefore: version, championAfter: version, steps: [])
        }
        var steps: [RegistryPlan.Step] = []
        if let champion {
            steps.append(.init(version: champion.version, from: .champion, to: .retired, note: "retired: model \(version) promoted by an operator"))
        }
        steps.append(.init(version: version, from: model.status, to: .champion, note: change.reason))
        return RegistryPlan(change: change, championBefore: champion?.version, championAfter: version, steps: steps)
    }

    static func rollback(champion: ModelRecord?, registry: ModelRegistry, on connection: Connection) throws -> RegistryPlan {
        guard let champion, let previous = try registry.previousChampion(on: connection) else {
            throw JobError(.usage, "there is no previous champion to roll back to; see danser-batch models list")
        }
        let change = RegistryChange(.rollback, reason: "rollback from model \(champion.version) to model \(previous.version)")
        return RegistryPlan(
            change: change, championBefore: champion.version, championAfter: previous.version,
            steps: [
                .init(version: champion.version, from: .champion, to: .rejected, note: "rolled back by an operator"),
                .init(version: previous.version, from: .retired, to: .champion, note: "restored by rollback from model \(champion.version)"),
            ])
    }

    static func retire(version: Int64, champion: ModelRecord?, registry: ModelRegistry, on connection: Connection) throws -> RegistryPlan {
        guard let model = try registry.record(version: version, on: connection) else {
            throw JobError(.usage, "there is no model \(version); see danser-batch models list")
        }
        guard model.status != .champion else {
            throw JobError(.usage, "model \(version) is the champion and cannot be retired: promote another model or roll back first; nothing changed")
        }
        let change = RegistryChange(.retire, reason: "retired from the registry by an operator")
        let steps: [RegistryPlan.Step] =
            model.status == .archived ? [] : [.init(version: version, from: model.status, to: .archived, note: change.reason)]
        return RegistryPlan(change: change, championBefore: champion?.version, championAfter: champion?.version, steps: steps)
    }

    /// The plan for a person: each model's change, the champion before and after, and what the
    /// history will record.
    static func describe(_ plan: RegistryPlan, actor: String, dryRun: Bool) -> [String] {
        let action = plan.change.action.rawValue
        guard !plan.steps.isEmpty else {
            return ["\(dryRun ? "dry run: " : "")\(action) changes nothing: the registry is already as it would leave it"]
        }
        var lines = [dryRun ? "dry run: models \(action) would change, in one transaction (nothing has changed):" : "models \(action) changed:"]
        for step in plan.steps {
            lines.append("  model \(step.version): \(step.from) -> \(step.to) (gate reason: \(step.note))")
        }
        func name(_ version: Int64?) -> String { version.map { "model \($0)" } ?? "none" }
        if plan.championBefore != plan.championAfter {
            lines.append("  champion: \(name(plan.championBefore)) -> \(name(plan.championAfter))")
        } else {
            lines.append("  champion: \(name(plan.championAfter)) (unchanged)")
        }
        let operatorReason = plan.change.operatorReason.map { ", operator reason \"\($0)\"" } ?? ", no operator reason (--reason)"
        lines.append("  \(dryRun ? "would be recorded" : "recorded") in bi.model_transitions as \(action) by \(actor)\(operatorReason)")
        return lines
    }
}

/// `models list`: models grouped by the window they were evaluated on, newest window first, so
/// that figures side by side were measured on the same days.
struct ModelListing {
    struct Window: Hashable, Comparable {
        /// First and last held-out day (inclusive); nil when the model did not record its window.
        var from: LogicalDate?
        var through: LogicalDate?
        static func < (a: Window, b: Window) -> Bool {
            (a.through?.day ?? .min, a.from?.day ?? .min) < (b.through?.day ?? .min, b.from?.day ?? .min)
        }
    }

    let models: [ModelRecord]

    static func window(of model: ModelRecord) -> Window {
        guard let days = JSON.decodeObject(model.hyperparametersJSON)["evaluation_days"] as? Int, days > 0 else { return Window() }
        let asOf = LogicalDate(day: Int64(model.asOfDay))
        return Window(from: asOf.adding(days: -days), through: asOf.adding(days: -1))
    }

    var lines: [String] {
        guard !models.isEmpty else { return ["(no models yet: run danser-batch nightly)"] }
        var lines = [
            "P@20 and MRR@20 in percent, each on its model's held-out window; compare figures only within one window.",
        ]
        let groups = Dictionary(grouping: models, by: Self.window)
        for window in groups.keys.sorted(by: >) {
            lines.append("")
            if let from = window.from, let through = window.through {
                let days = from == through ? "\(from)" : "\(from) to \(through)"
                lines.append("evaluated on \(days) (UTC):")
            } else {
                lines.append("evaluation window not recorded (models stored before it was):")
            }
            lines.append("  version  status     mode       parent  as_of       items   P@20    MRR@20  gate")
            for model in groups[window, default: []].sorted(by: { $0.version > $1.version }) {
                let metrics = JSON.decodeObject(model.metricsJSON)
                let (p20, mrr) = Self.figures(metrics["candidate"])
                lines.append("  " + [
                    pad(String(model.version), 8), pad(model.status.rawValue, 10), pad(model.mode.rawValue, 10),
                    pad(model.parentVersion.map(String.init) ?? "-", 7), pad(LogicalDate(day: Int64(model.asOfDay)).description, 11),
                    pad(String(model.itemCount), 7), p20 + "  " + mrr + "  ", model.gateReason ?? "",
                ].joined(separator: " "))
                let base = (JSON.decodeObject(model.hyperparametersJSON)["base_version"] as? Int).map { " (model \($0))" } ?? ""
                for name in metrics.keys.sorted() where name != "candidate" {
                    let (p, m) = Self.figures(metrics[name])
                    let label = name == "champion" ? "champion\(base)" : name.replacingOccurrences(of: "_", with: " ")
                    lines.append("  " + pad("", 8) + " " + pad("  same window: \(label)", 48) + " " + p + "  " + m)
                }
            }
        }
        return lines
    }

    private static func figures(_ object: Any?) -> (String, String) {
        let scores = object as? [String: Any]
        func format(_ key: String) -> String { (scores?[key] as? Double).map { String(format: "%6.2f", $0) } ?? "     -" }
        return (format("p@20"), format("mrr@20"))
    }
}

private func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
