import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch backfill --from A --to B`: the nightly job for each date in order.
struct BackfillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Run the nightly job for every date from --from to --to (inclusive), in order.",
        discussion: """
            By default a date is run only if it never ran; --rerun failed also retries dates whose last run failed \
            or was interrupted, --rerun all recomputes every date. Stops at the first date that fails, with its exit code. \
            Point in time: each date trains and is evaluated on clicks before it and is scored by a model trained \
            on clicks before it; a date older than the champion's never replaces the champion. --dry-run says, for \
            each date, which model would score it and why.
            """
    )

    enum Rerun: String, ExpressibleByArgument, CaseIterable { case none, failed, all }

    @Option(help: "First logical date, YYYY-MM-DD.") var from: LogicalDate
    @Option(help: "Last logical date, YYYY-MM-DD (not in the future).") var to: LogicalDate
    @Option(help: "Which dates already attempted to run again: none, failed or all.") var rerun: Rerun = .none
    @Flag(help: "Print the plan and change nothing.") var dryRun = false
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Contest") var contest: ContestOptions
    @OptionGroup var nightly: NightlyOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard from <= to else { throw ValidationError("--from \(from) is after --to \(to).") }
        guard to <= LogicalDate.today() else { throw ValidationError("--to \(to) is in the future.") }
        guard to.day - from.day < 3_660 else { throw ValidationError("a backfill covers at most ten years of dates.") }
    }

    /// What happens to one date, and why.
    static func plan(lastStatus: RunStatus?, rerun: Rerun) -> (run: Bool, recompute: Bool, reason: String) {
        switch (lastStatus, rerun) {
        case (nil, _): return (true, false, "never ran")
        case (.succeeded?, .all): return (true, true, "succeeded before; --rerun all")
        case (.succeeded?, _): return (false, false, "already succeeded")
        case (let status?, .failed), (let status?, .all): return (true, false, "last run \(status)")
        case (let status?, .none): return (false, false, "last run \(status); --rerun failed retries it")
        }
    }

    /// Which model would score `day`, and why (point in time: the date's own candidate if it passes
    /// its gate, else its base model, which has seen no click on or after the date).
    static func scoringPlan(for day: LogicalDate, firstRun: Bool, on connection: Connection) throws -> String {
        let base = try BaseModel.choose(for: day, registry: ModelRegistry(), on: connection)
        let fallback = base.record.map { "model \($0.version) (\($0.mode), as-of \(LogicalDate(day: Int64($0.asOfDay)))): \(base.reason)" }
            ?? "none (\(base.reason))"
        let earlier = firstRun ? "" : ", or the model this backfill trains for an earlier date"
        return "scored by this date's own model if it passes the gate, else the base model: \(fallback)\(earlier)"
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        let logger = Logger(label: "danser.backfill")
        var failure: ExitStatus?
        try FailureReport.run {
            let connection = try database.migratedConnection(logger: logger)
            let ledger = RunLedger()
            var day = from
            var planned = false
            while day <= to {
                let last = try ledger.lastStatus(command: "nightly", asOfDay: Int32(day.day), on: connection)
                let decision = Self.plan(lastStatus: last, rerun: rerun)
                var line = "\(day): \(decision.run ? (dryRun ? "would run" : "run") : "skip") (\(decision.reason))"
                if decision.run && dryRun { line += "; " + (try Self.scoringPlan(for: day, firstRun: !planned, on: connection)) }
                if decision.run { planned = true }
                print(line)
                if decision.run && !dryRun {
                    var settings = try nightly.settings(asOf: day)
                    training.apply(to: &settings)
                    try contest.apply(to: &settings)
                    // A date retried after a failed --rerun has an older success: recompute it too.
                    let succeededBefore = try ledger.lastSucceeded(command: "nightly", asOfDay: Int32(day.day), on: connection) != nil
                    settings.rerun = decision.recompute || succeededBefore
                    let status = try NightlyCommand.runNight(settings, database: database, logger: logger)
                    if status != .ok {
                        failure = status
                        print("\(day): stopped with exit \(status.rawValue); later dates were not run")
                        return
                    }
                }
                try ShutdownSignal.check("backfill")
                day = day.adding(days: 1)
            }
        }
        if let failure { throw ExitCode(failure.rawValue) }
    }
}
