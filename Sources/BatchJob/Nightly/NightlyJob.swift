import DANSeR
import FeatureStore
import Foundation
import Logging

/// A run: the job lease, the ledger row opened and closed around it (RunEnvelope), and the
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

    /// The lease, the ledger row's life and the heartbeat (see RunEnvelope).
    let envelope: RunEnvelope

    init(settings: NightlySettings, database: ConnectionConfiguration, connection: Connection, logger: Logger, envelope: RunEnvelope? = nil) {
        // One level of parallelism: the large products are split over `threads` one-thread sgemms.
        BLAS.setThreadCount(1)
        self.settings = settings
        self.database = database
        self.connection = connection
        self.logger = logger
        self.envelope = envelope ?? RunEnvelope(logger: logger)
        self.envelope.connect(database)
    }

    /// Runs the night; returns the exit status (errors after the ledger row is open are recorded
    /// there, then rethrown).
    func run() throws -> ExitStatus {
        let asOfDay = Int32(settings.asOf.day)
        if let holders = try envelope.acquireLease(settings.leaseClaim, on: connection) {
            let reason = RunEnvelope.describe(holders)
            try envelope.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: reason, on: connection)
            logger.warning("another run holds the job lease; this one did nothing", metadata: ["as_of": "\(settings.asOf)", "holder": "\(reason)"])
            summary.status = .skipped
            summary.skipReason = reason
            return .skipped
        }
        if !settings.rerun, envelope.runID == nil, let done = try ledger.lastSucceeded(command: settings.command, asOfDay: asOfDay, on: connection) {
            try envelope.recordSkipped(command: settings.command, asOfDay: asOfDay, reason: "already completed by run \(done.runID)", on: connection)
            logger.info("this date already succeeded; nothing to do (use --rerun to recompute)", metadata: ["as_of": "\(settings.asOf)", "run": "\(done.runID)"])
            summary.alreadyDone = done.runID
            return .ok
        }
        let runID = try envelope.openRun(command: settings.command, asOfDay: asOfDay, on: connection)
        summary.runID = runID
        logger.info("\(settings.command) run started", metadata: ["run": "\(runID)", "as_of": "\(settings.asOf)"])
        let context = RunContext(settings: settings, connection: connection, logger: logger, runID: runID, summary: summary)
        do {
            try settings.pipeline.run(in: context)
            summary = context.summary
            summary.status = .succeeded
        } catch {
            summary = context.summary
            summary.status = (error as? JobError)?.code == .interrupted || (error as? DANSeRError)?.code == .cancelled ? .interrupted : .failed
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
            metricsJSON: JSON.encode(summary.metrics), error: summary.error, stage: RunStage.current, on: connection)
    }

    /// The preset's name when `configuration` is that preset, else "custom".
    static func configurationName(of configuration: ModelConfiguration, named name: String) -> String {
        ModelConfiguration.preset(named: name) == configuration ? name : "custom"
    }

    static func configurationName(of record: ModelRecord) -> String {
        (JSON.decodeObject(record.hyperparametersJSON)["configuration_name"] as? String) ?? "srgnn"
    }

    /// The configuration a stored model was trained with, or nil for records that predate it.
    static func configuration(of record: ModelRecord) -> ModelConfiguration? {
        guard let object = JSON.decodeObject(record.hyperparametersJSON)["configuration"],
              let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
        return try? JSONDecoder().decode(ModelConfiguration.self, from: data)
    }

    static var host: String { ProcessInfo.processInfo.hostName }
}
