import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch nightly`: the main job, for one logical date.
struct NightlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Ingest, train or fine-tune, evaluate and gate, publish features, precompute top-K, record: for one date.",
        discussion: """
            Reads clicks strictly before --as-of (UTC midnight). A date that already succeeded is a no-op \
            unless --rerun. Exit codes: 0 done (or already done), 4 skipped (another run holds the job lease; the message names it), \
            5 interrupted, 6 the day failed its audit (not published), 64 usage, 65 too little data, 69/75 database unavailable, 77 permission, 78 configuration.
            """
    )

    @Option(help: "Logical date YYYY-MM-DD (UTC); clicks before its midnight are used. Default: today. Future dates are refused.")
    var asOf: LogicalDate?

    @Flag(help: "Recompute a date that already succeeded.")
    var rerun = false

    @Flag(help: "Train, gate and publish features, but leave scoring to `score --shard i/N` runs.")
    var skipScore = false

    @Flag(help: "Discard the training checkpoint an interrupted attempt of this date saved (e.g. a corrupt one) and train from the start.")
    var discardCheckpoint = false

    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup var nightly: NightlyOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let asOf, asOf > LogicalDate.today() {
            throw ValidationError("--as-of \(asOf) is in the future; a night can only be run for today or earlier.")
        }
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        let logger = Logger(label: "danser.nightly")
        var settings = try nightly.settings(asOf: asOf ?? LogicalDate.today())
        training.apply(to: &settings)
        settings.rerun = rerun
        settings.pipeline = .nightly(scoring: !skipScore)
        settings.discardCheckpoint = discardCheckpoint
        var status = ExitStatus.ok
        try FailureReport.run {
            status = try Self.runNight(settings, database: database, logger: logger)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// One night from start to report; shared with `backfill` and `demo`. Runs inside the
    /// envelope (lease, ledger row, heartbeat, signals) and the supervisor (transient failures
    /// retried on a new connection). A run that never reached the database still writes the
    /// metrics textfile: status failed, the last success kept from the previous file.
    static func runNight(_ settings: NightlySettings, database: DatabaseOptions, logger: Logger) throws -> ExitStatus {
        var settings = settings
        if settings.reportDirectory == nil, try database.configuredServer == nil {
            settings.reportDirectory = database.embeddedServer.stateDirectory + "/reports"
        }
        let envelope = RunEnvelope(logger: logger)
        var job: NightlyJob?
        var connection: Connection?
        defer { envelope.end(on: connection) }
        var status = ExitStatus.ok
        var failure: (any Error)?
        do {
            status = try RunSupervisor(policy: database.runRetryPolicy, envelope: envelope, logger: logger).run { _ in
                let configuration = try database.connectionConfiguration(logger: logger)
                envelope.connect(configuration)
                connection = nil
                let attempt = try database.migratedConnection(logger: logger)
                connection = attempt
                let attemptJob = NightlyJob(settings: settings, database: configuration, connection: attempt, logger: logger, envelope: envelope)
                job = attemptJob
                return try attemptJob.run()
            }
        } catch {
            failure = error
        }
        var summary = job?.summary ?? NightlySummary()
        if let failure, summary.status == "running" {
            summary.status = (failure as? JobError)?.code == .interrupted ? "interrupted" : "failed"
            summary.error = "\(failure)"
        }
        if summary.runID != nil || status == .skipped || failure != nil {
            let live = connection?.isAlive == true ? connection : nil
            summary.reportPath = RunOutputs(settings: settings, summary: summary, connection: live, logger: logger).write()
        }
        if let failure { throw failure }
        NightlyPrinter.print(summary, settings: settings, status: status)
        return status
    }
}
