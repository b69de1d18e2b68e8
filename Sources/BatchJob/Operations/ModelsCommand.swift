import ArgumentParser
import DANSeR
import FeatureStore
import Foundation
import Logging

/// `danser-batch models list|promote|rollback`: the model registry for operators.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List models, promote one to champion, or roll back to the previous champion.",
        subcommands: [ListModels.self, PromoteModel.self, RollbackModel.self],
        defaultSubcommand: ListModels.self
    )

    struct ListModels: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The newest models, champion marked.")
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
                let models = try ModelRegistry().list(limit: limit, on: connection)
                print("version  status     mode       parent  as_of       items   P@20    MRR@20  gate")
                for model in models {
                    let metrics = JSON.decodeObject(model.metricsJSON)["candidate"] as? [String: Any]
                    let p20 = (metrics?["p@20"] as? Double).map { String(format: "%6.2f", $0) } ?? "     -"
                    let mrr = (metrics?["mrr@20"] as? Double).map { String(format: "%6.2f", $0) } ?? "     -"
                    let line = [
                        pad(String(model.version), 8), pad(model.status, 10), pad(model.mode, 10), pad(model.parentVersion.map(String.init) ?? "-", 7),
                        pad(LogicalDate(day: Int64(model.asOfDay)).description, 11), pad(String(model.itemCount), 7), p20 + "  " + mrr + "  ",
                        model.gateReason ?? "",
                    ].joined(separator: " ")
                    print(line)
                }
                if models.isEmpty { print("(no models yet: run danser-batch nightly)") }
            }
        }
    }

    struct PromoteModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "promote", abstract: "Make a model the champion; the next scoring run (nightly or score) publishes with it.")
        @Argument(help: "Model version.") var version: Int64
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                try ModelsCommand.change(action: "promote", database: database) { registry, connection in
                    guard let model = try registry.record(version: version, on: connection) else {
                        throw JobError(.usage, "there is no model \(version); see danser-batch models list")
                    }
                    try registry.promote(version: model.version, reason: "promoted by an operator", on: connection)
                    return model.version
                }
            }
        }
    }

    struct RollbackModel: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rollback", abstract: "Make the previous champion the champion again; the current one is marked rejected.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                try ModelsCommand.change(action: "rollback", database: database) { registry, connection in
                    guard let current = try registry.champion(on: connection), let previous = try registry.previousChampion(on: connection) else {
                        throw JobError(.usage, "there is no previous champion to roll back to; see danser-batch models list")
                    }
                    try registry.promote(version: previous.version, reason: "restored by rollback from model \(current.version)", on: connection)
                    try registry.reject(version: current.version, reason: "rolled back by an operator", on: connection)
                    return previous.version
                }
            }
        }
    }

    /// Changes the champion under the job lease (never while a night runs), in one transaction,
    /// checking that the new champion's features can be read back. A ledger row `models <action>`.
    static func change(action: String, database: DatabaseOptions, _ body: (ModelRegistry, Connection) throws -> Int64) throws {
        let logger = Logger(label: "danser.models")
        let registry = ModelRegistry()
        let version = try EnvelopedCommand.run(
            command: "models \(action)", purpose: "models \(action)", busy: "try again when it has finished", database: database, logger: logger,
            connect: { try database.migratedConnection(logger: logger) }
        ) { connection in
            // Everything the new champion will serve is read back and checked before the change commits.
            try connection.withTransaction { connection in
                let version = try body(registry, connection)
                guard let model = try registry.record(version: version, on: connection) else { return version }
                _ = try Checkpoint(decoding: Data(try registry.checkpoint(version: version, on: connection))).makeModel()
                try FeatureRepository().verify(version: version, rows: model.itemCount + 1, dim: model.dim, on: connection)
                return version
            }
        }
        print("model \(version) is the champion; run danser-batch score (or the next nightly) to publish recommendations with it")
    }
}

private func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
