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
            ) { connection in
                try connection.withTransaction { connection in
                    let plan = RetentionPlan(
                        days: try RetentionStore.days(on: connection), models: try RetentionStore.models(on: connection),
                        keepDays: keepDays, keepModels: keepModels)
                    for line in Self.describe(plan, dryRun: dryRun) { print(line) }
                    guard !dryRun else { return }
                    try RetentionStore.apply(plan, on: connection)
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
                lines.append("\(drop) day \(day.day) (run \(day.runID ?? 0), model \(day.modelVersion ?? 0), sessions \(day.sessions ?? 0))")
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

/// Reads what retention decides on and carries out its plan.
enum RetentionStore {
    /// Published days, and partitions that were never published (a killed run's leftovers).
    static func days(on connection: Connection) throws -> [RetentionPlan.Day] {
        let result = try connection.query("""
            SELECT coalesce(p.as_of, d.as_of), p.run_id, p.model_version, p.sessions, p.audit IS NOT NULL
            FROM danser.published_recommendations p
            FULL JOIN (
                SELECT to_date(substr(c.relname, 17), 'YYYYMMDD') AS as_of
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'danser.recommendations'::regclass AND c.relname ~ '^recommendations_[0-9]{8}$'
            ) d ON d.as_of = p.as_of
            """)
        return try (0..<result.rowCount).map { row in
            guard case .date(let day) = try result.value(row, 0) else {
                throw FeatureStoreError(.decodingFailed, "a recommendations day has no date")
            }
            return RetentionPlan.Day(
                day: LogicalDate(day: Int64(day)), runID: try result.value(row, 1).int64Value,
                modelVersion: try result.value(row, 2).int64Value, sessions: try result.value(row, 3).int64Value,
                audited: try result.value(row, 4).boolValue ?? false)
        }
    }

    static func models(on connection: Connection) throws -> [RetentionPlan.Model] {
        let result = try connection.query("SELECT model_version, parent_version, status, mode, as_of FROM danser.models")
        return try (0..<result.rowCount).map { row in
            var asOf = LogicalDate(day: 0)
            if case .date(let day) = try result.value(row, 4) { asOf = LogicalDate(day: Int64(day)) }
            return RetentionPlan.Model(
                version: try result.value(row, 0).int64Value ?? 0, parentVersion: try result.value(row, 1).int64Value,
                status: try result.value(row, 2).stringValue ?? "", mode: try result.value(row, 3).stringValue ?? "", asOf: asOf)
        }
    }

    /// Drops the days, then deletes the models newest first (a child before its parent).
    static func apply(_ plan: RetentionPlan, on connection: Connection) throws {
        for day in plan.daysToDrop {
            try connection.query("SELECT danser.drop_recommendations_day($1)", [.date(Int32(day.day.day))])
        }
        for model in plan.modelsToDelete.sorted(by: { $0.version > $1.version }) {
            try connection.query("DELETE FROM danser.models WHERE model_version = $1", [.int64(model.version)])
        }
    }
}
