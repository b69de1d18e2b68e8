import DANSeR
import FeatureStore
import Foundation
import Logging

/// The envelope of a run: the job lock, the ledger row opened and closed around it, and the
/// run's pipeline of stages (`Pipeline`), every stage keyed to the logical date. See
/// docs/OPERATIONS.md.
final class NightlyJob {
    let settings: NightlySettings
    let database: ConnectionConfiguration
    let logger: Logger
    let connection: Connection

    private let ledger = RunLedger()

    /// What the run found and did, for the ledger, the report and the metrics file.
    private(set) var summary = NightlySummary()

    init(settings: NightlySettings, database: ConnectionConfiguration, connection: Connection, logger: Logger) {
        // One level of parallelism: the large products are split over `threads` one-thread sgemms.
        BLAS.setThreadCount(1)
        self.settings = settings
        self.database = database
        self.connection = connection
        self.logger = logger
    }

    static let lockName = "danser-batch nightly"

    /// Runs the pipeline; returns the exit status (errors after the ledger row is open are
    /// recorded there, then rethrown).
    func run() throws -> ExitStatus {
        let asOfDay = Int32(settings.asOf.day)
        // Shards of one day's scoring run side by side, each under its own lock.
        let shard = settings.pipeline.shard
        let sharded = shard.count > 1
        let lockName = sharded ? "\(Self.lockName) score shard \(shard)" : Self.lockName
        guard let lock = try AdvisoryLock.tryAcquire(lockName, configuration: database, logger: logger) else {
            try ledger.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: "another run holds the job lock", host: Self.host, pid: getpid(), on: connection)
            logger.warning("another nightly run holds the job lock; this one did nothing", metadata: ["as_of": "\(settings.asOf)"])
            summary.status = "skipped"
            return .skipped
        }
        defer { lock.release() }
        // Only the holder of the job lock knows that no other run of its kind is alive.
        let abandoned = sharded ? 0 : try ledger.closeAbandoned(command: settings.command, on: connection)
        if abandoned > 0 { logger.notice("closed runs left open by a killed process", metadata: ["runs": "\(abandoned)"]) }
        if !settings.rerun, let done = try ledger.lastSucceeded(command: settings.command, asOfDay: asOfDay, on: connection) {
            try ledger.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: "already completed by run \(done.runID)", host: Self.host, pid: getpid(), on: connection)
            logger.info("this date already succeeded; nothing to do (use --rerun to recompute)", metadata: ["as_of": "\(settings.asOf)", "run": "\(done.runID)"])
            summary.alreadyDone = done.runID
            return .ok
        }
        let runID = try ledger.start(command: settings.command, asOfDay: asOfDay, host: Self.host, pid: getpid(), on: connection)
        summary.runID = runID
        logger.info("\(settings.command) run started", metadata: ["run": "\(runID)", "as_of": "\(settings.asOf)"])
        let context = RunContext(settings: settings, connection: connection, logger: logger, runID: runID, summary: summary)
        do {
            try settings.pipeline.run(in: context)
            summary = context.summary
            summary.status = "succeeded"
        } catch {
            summary = context.summary
            summary.status = (error as? JobError)?.code == .interrupted || (error as? DANSeRError)?.code == .cancelled ? "interrupted" : "failed"
            summary.error = "\(error)"
            try? context.recordResults()
            try? finishLedger(runID: runID)
            throw error
        }
        try context.recordResults()
        try finishLedger(runID: runID)
        return .ok
    }

    private func finishLedger(runID: Int64) throws {
        try ledger.finish(
            runID: runID, status: summary.status, modelVersion: summary.scoringVersion ?? summary.modelVersion,
            rowCountsJSON: JSON.encode(summary.counts), timingsJSON: JSON.encode(summary.timings.reduce(into: [String: Double]()) { $0[$1.stage] = $1.seconds }),
            metricsJSON: JSON.encode(summary.metrics), error: summary.error, reportPath: summary.reportPath, on: connection)
    }

    /// The preset's name when `configuration` is that preset, else "custom".
    static func configurationName(of configuration: ModelConfiguration, named name: String) -> String {
        ModelConfiguration.preset(named: name) == configuration ? name : "custom"
    }

    static func configurationName(of record: ModelRecord) -> String {
        (JSON.decodeObject(record.hyperparametersJSON)["configuration_name"] as? String) ?? "srgnn"
    }

    static var host: String { ProcessInfo.processInfo.hostName }
}
