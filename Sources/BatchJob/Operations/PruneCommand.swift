import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch prune`: retention for recommendation days and model versions.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Drop old recommendation days and old model versions (never the current day or the champion).",
        discussion: """
            Days older than --keep-days before the newest audited published day are dropped; that \
            day always stays (days published before day audits existed never count as the newest). Model versions beyond the newest --keep-models are deleted \
            with their embeddings and statistics, except the champion, the previous champion (the \
            rollback target), models of kept days and ancestors of kept models. Everything happens \
            in one transaction, under the job lease. Exit codes: 0 done, 4 another run \
            holds the lease (nothing done; the message names it), 64 usage, 69/75 database unavailable, 77 permission.
            """
    )

    @Option(name: .customLong("keep-days"), help: "Keep the recommendation days up to this many days before the newest published day (0 keeps only the newest). Required unless retention.keep_days is set.")
    var keepDaysFlag: Int?

    @Option(name: .customLong("keep-models"), help: "Keep the newest this many model versions, whatever their status (0 keeps only the protected ones). Required unless retention.keep_models is set.")
    var keepModelsFlag: Int?

    /// The flag, else the setting (`retention.keep_days`, `DANSER_KEEP_DAYS`).
    var keepDays: Int { keepDaysFlag ?? Settings.current.optional(.keepDays) ?? -1 }
    var keepModels: Int { keepModelsFlag ?? Settings.current.optional(.keepModels) ?? -1 }

    @Flag(help: "List what would be removed and change nothing.")
    var dryRun = false

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    static let maximumKeepDays = 36_500

    func validate() throws {
        let settings = Settings.current
        guard keepDaysFlag != nil || settings.resolved(.keepDays).value != nil else {
            throw ValidationError("--keep-days is required (or set retention.keep_days in the configuration file, or DANSER_KEEP_DAYS).")
        }
        guard keepModelsFlag != nil || settings.resolved(.keepModels).value != nil else {
            throw ValidationError("--keep-models is required (or set retention.keep_models in the configuration file, or DANSER_KEEP_MODELS).")
        }
        guard (0...Self.maximumKeepDays).contains(keepDays) else {
            throw ValidationError("--keep-days \(keepDays) is out of range: give a number of days from 0 to \(Self.maximumKeepDays).")
        }
        guard keepModels >= 0 else {
            throw ValidationError("--keep-models \(keepModels) is out of range: give 0 or more model versions to keep.")
        }
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        let logger = Logger(label: "danser.prune")
        try FailureReport.run {
            try EnvelopedCommand.run(
                command: "prune", purpose: "prune", busy: "nothing was pruned. Run prune again after it ends.", database: database, logger: logger,
                connect: {
                    // Only checks the schema (the job role may not create schemas): migrating is the owner's job.
                    try database.unmigratedConnection(try database.connectionConfiguration(logger: logger), logger: logger)
                }
            ) { connection, _ in
                try connection.withTransaction { connection in
                    let plan = try RetentionPlan.make(keepDays: keepDays, keepModels: keepModels, on: connection)
                    for line in Self.describe(plan, dryRun: dryRun) { print(line) }
                    guard !dryRun else { return }
                    try plan.apply(on: connection)
                    logger.info("pruned", metadata: ["days": "\(plan.daysToDrop.count)", "models": "\(plan.modelsToDelete.count)"])
                }
            }
        }
    }

    /// The plan as lines for the terminal.
    static func describe(_ plan: RetentionPlan, dryRun: Bool) -> [String] {
        var lines: [String] = []
        let drop = dryRun ? "would drop" : "dropped"
        let delete = dryRun ? "would delete" : "deleted"
        if let newest = plan.newestPublished, let oldest = plan.oldestKeptDay {
            lines.append("newest published day \(newest) stays; keeping days from \(max(oldest, LogicalDate(day: 0)))")
        } else {
            lines.append("no audited day is published yet; no day is dropped")
        }
        for day in plan.daysToDrop {
            if day.isPublished {
                lines.append("\(drop) day \(day.day) (run \(day.runID.map(String.init) ?? "-"), model \(day.modelVersion.map(String.init) ?? "-"), sessions \(day.sessions.map(String.init) ?? "-"))")
            } else {
                lines.append("\(drop) day \(day.day) (a partition that was never published)")
            }
        }
        for model in plan.modelsToDelete {
            lines.append("\(delete) model \(model.version) (\(model.status), \(model.mode), as of \(model.asOf))")
        }
        for (model, reason) in plan.modelsToKeep {
            lines.append("kept model \(model.version) (\(model.status)): \(reason)")
        }
        let days = plan.daysToDrop.count == 1 ? "1 day" : "\(plan.daysToDrop.count) days"
        let models = plan.modelsToDelete.count == 1 ? "1 model" : "\(plan.modelsToDelete.count) models"
        lines.append(dryRun ? "dry run: \(days) and \(models) would go; nothing changed" : "\(days) dropped, \(models) deleted")
        return lines
    }
}

extension RetentionPlan {
    /// The plan for the database as it is.
    static func make(keepDays: Int, keepModels: Int, on connection: Connection) throws -> RetentionPlan {
        let store = RetentionStore()
        let days = try store.days(on: connection).map { day in
            Day(day: LogicalDate(day: Int64(day.asOfDay)), runID: day.runID, modelVersion: day.modelVersion, sessions: day.sessions, audited: day.audited)
        }
        let models = try store.models(on: connection).map { model in
            Model(version: model.version, parentVersion: model.parentVersion, status: model.status, mode: model.mode, asOf: LogicalDate(day: Int64(model.asOfDay)))
        }
        return RetentionPlan(days: days, models: models, keepDays: keepDays, keepModels: keepModels)
    }

    /// Drops the days, then deletes the models newest first (a child before its parent).
    func apply(on connection: Connection) throws {
        let store = RetentionStore()
        for day in daysToDrop { try store.dropDay(Int32(day.day.day), on: connection) }
        for model in modelsToDelete.sorted(by: { $0.version > $1.version }) { try store.deleteModel(version: model.version, on: connection) }
    }
}
