import FeatureStore
import Foundation
import Logging
import Synchronization

/// The envelope around every run of the job (nightly, score, shard, backfill date, import,
/// prune, models): the job lease, the ledger row's life (opened once, reopened after a retried
/// transient failure, closed however the run ends), a heartbeat on its own connection every few
/// seconds with the stage the run is in, the `abandoned` sweep of runs whose process is gone,
/// and the last words of a run stopped by SIGTERM/SIGINT (ledger `interrupted`, exit 5).
final class RunEnvelope: Sendable {
    /// Timings of the envelope, from the environment (see README, "Runs, leases and retries").
    struct Timing: Sendable {
        /// Seconds between heartbeats (`DANSER_HEARTBEAT_SECONDS`, default 5).
        var heartbeatSeconds = 5.0
        /// Seconds without a heartbeat after which a lease may be taken over and a running run
        /// of another host counts as abandoned (`DANSER_LEASE_EXPIRY_SECONDS`, default 60).
        var expirySeconds = 60.0

        static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Timing {
            var timing = Timing()
            if let text = environment["DANSER_HEARTBEAT_SECONDS"], let value = Double(text), value > 0 { timing.heartbeatSeconds = value }
            if let text = environment["DANSER_LEASE_EXPIRY_SECONDS"], let value = Double(text), value > 0 { timing.expirySeconds = value }
            timing.expirySeconds = max(timing.expirySeconds, 3 * timing.heartbeatSeconds)
            return timing
        }
    }

    private struct State: Sendable {
        var configuration: ConnectionConfiguration?
        var runID: Int64?
        var lease: JobLease?
        var leaseLost = false
        var pendingCause: String?
        var lastCause: String?
        var attempts = 0
        var sweptAbandoned = false
        var heartbeatStarted = false
        var ended = false
    }

    let logger: Logger
    let timing: Timing
    let host = ProcessInfo.processInfo.hostName
    let pid = getpid()
    private let state = Mutex(State())
    private let ledger = RunLedger()

    /// `shutdownGrace`: seconds the run gets after SIGTERM/SIGINT to stop at a safe point
    /// before the envelope records `interrupted` itself and exits 5 (0 for runs with no safe
    /// points, such as import, whose transaction the server rolls back).
    init(logger: Logger, timing: Timing = .fromEnvironment(), shutdownGrace: Double? = nil) {
        self.logger = logger
        self.timing = timing
        ShutdownSignal.install()
        ShutdownSignal.setLastWords(owner: ObjectIdentifier(self), grace: shutdownGrace) { [weak self] in self?.lastWords() }
    }

    deinit { ShutdownSignal.clearLastWords(owner: ObjectIdentifier(self)) }

    static func isProcessAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The server the heartbeat and the last words use (set before the first attempt, again
    /// after a reconnect).
    func connect(_ configuration: ConnectionConfiguration) {
        state.withLock { $0.configuration = configuration }
    }

    var runID: Int64? { state.withLock { $0.runID } }

    // MARK: - Lease

    /// Takes the job lease (or keeps the one already held across a retried attempt). Nil when
    /// taken; the live holders that conflict otherwise.
    func acquireLease(_ claim: JobLease.Claim, on connection: Connection) throws -> [LeaseHolder]? {
        sweepAbandoned(on: connection)
        if let lease = state.withLock({ $0.leaseLost ? nil : $0.lease }), try lease.isHeld(on: connection) {
            return nil
        }
        let (outcome, takenOver) = try JobLease.tryAcquire(
            claim, runID: runID, host: host, pid: pid, expirySeconds: timing.expirySeconds,
            isAlive: Self.isProcessAlive, on: connection)
        for holder in takenOver {
            logger.warning("took over the job lease of a holder that is gone", metadata: ["holder": "\(holder)", "expired": "\(holder.expired)"])
        }
        switch outcome {
        case .held(let holders):
            return holders
        case .acquired(let lease):
            state.withLock {
                $0.lease = lease
                $0.leaseLost = false
            }
            startHeartbeat()
            return nil
        }
    }

    /// One line naming who holds the lease.
    static func describe(_ holders: [LeaseHolder]) -> String {
        "the job lease is held by " + holders.map(\.description).joined(separator: "; ")
    }

    // MARK: - Ledger row

    /// Marks runs whose process is gone as abandoned (once per envelope).
    func sweepAbandoned(on connection: Connection) {
        guard state.withLock({ state in defer { state.sweptAbandoned = true }; return !state.sweptAbandoned }) else { return }
        do {
            for run in try ledger.closeAbandoned(host: host, pid: pid, isAlive: Self.isProcessAlive, expirySeconds: timing.expirySeconds, on: connection) {
                logger.notice("marked a run whose process is gone as abandoned", metadata: [
                    "run": "\(run.runID)", "command": "\(run.command)", "stage": "\(run.stage ?? "-")", "cause": "\(run.cause ?? "-")",
                ])
            }
        } catch {
            logger.warning("could not check for abandoned runs", metadata: ["error": "\(error)"])
            state.withLock { $0.sweptAbandoned = false }
        }
    }

    /// Opens the run's ledger row on the first attempt; reopens the same row (one more attempt,
    /// the cause kept) after a retried transient failure.
    func openRun(command: String, asOfDay: Int32?, on connection: Connection) throws -> Int64 {
        sweepAbandoned(on: connection)
        let (existing, cause) = state.withLock { ($0.runID, $0.pendingCause) }
        let runID: Int64
        if let existing {
            try ledger.reopen(runID: existing, cause: cause, on: connection)
            runID = existing
        } else {
            runID = try ledger.start(command: command, asOfDay: asOfDay, host: host, pid: pid, on: connection)
            // The log file the scheduler appends this run's lines to (cron/nightly.sh sets it).
            if let logPath = Settings.current.environment["DANSER_LOG_FILE"], !logPath.isEmpty {
                try RunHealthStore().recordLogPath(runID: runID, path: logPath, on: connection)
            }
        }
        LogOutput.runID = runID
        state.withLock {
            $0.runID = runID
            $0.pendingCause = nil
            $0.attempts += 1
        }
        if let lease = state.withLock({ $0.lease }) { _ = try? lease.heartbeat(runID: runID, on: connection) }
        startHeartbeat()
        return runID
    }

    func recordSkipped(command: String, asOfDay: Int32?, reason: String, on connection: Connection) throws {
        sweepAbandoned(on: connection)
        try ledger.recordSkipped(command: command, asOfDay: asOfDay, reason: reason, host: host, pid: pid, on: connection)
    }

    /// A transient failure the supervisor will retry: written to the row at once if the
    /// heartbeat can, and at the reopen otherwise.
    func noteFailure(_ cause: String) {
        state.withLock {
            $0.pendingCause = cause
            $0.lastCause = cause
        }
    }

    var lastCause: String? { state.withLock { $0.lastCause } }

    /// Stops the heartbeat and gives the lease up (best effort: an unreachable server lets it
    /// expire).
    func end(on connection: Connection?) {
        ShutdownSignal.clearLastWords(owner: ObjectIdentifier(self))
        let lease = state.withLock { state -> JobLease? in
            state.ended = true
            defer { state.lease = nil }
            return state.leaseLost ? nil : state.lease
        }
        guard let lease else { return }
        if let connection, connection.isAlive, (try? lease.release(on: connection)) != nil { return }
        if let fresh = quickConnection() { try? lease.release(on: fresh) }
    }

    // MARK: - Heartbeat and last words

    private func quickConnection() -> Connection? {
        guard var configuration = state.withLock({ $0.configuration }) else { return nil }
        configuration.connectTimeoutSeconds = configuration.connectTimeoutSeconds > 0 ? min(configuration.connectTimeoutSeconds, 3) : 3
        configuration.applicationName += " heartbeat"
        return try? Connection(configuration, logger: logger)
    }

    private func startHeartbeat() {
        let start = state.withLock { state in
            defer { state.heartbeatStarted = true }
            return !state.heartbeatStarted
        }
        guard start else { return }
        let thread = Thread { [self] in heartbeatLoop() }
        thread.name = "heartbeat"
        thread.start()
    }

    /// Beats every `heartbeatSeconds`, and at once when the run enters a new stage.
    private func heartbeatLoop() {
        var connection: Connection?
        var failing = false
        var written: (stage: String?, at: Date) = (nil, .distantPast)
        while true {
            Thread.sleep(forTimeInterval: min(0.1, timing.heartbeatSeconds))
            let snapshot = state.withLock { $0 }
            if snapshot.ended { return }
            let stage = RunStage.current
            let due = Date().timeIntervalSince(written.at) >= (failing ? 1 : timing.heartbeatSeconds)
            guard due || stage != written.stage || snapshot.pendingCause != nil else { continue }
            do {
                if connection?.isAlive != true { connection = quickConnection() }
                guard let connection else { throw FeatureStoreError(.connectionFailed, "cannot reach the server") }
                if let runID = snapshot.runID {
                    try ledger.heartbeat(runID: runID, stage: stage, on: connection)
                    if let cause = snapshot.pendingCause {
                        try ledger.noteCause(runID: runID, cause: cause, on: connection)
                        state.withLock { if $0.pendingCause == cause { $0.pendingCause = nil } }
                    }
                }
                if let lease = snapshot.lease, !snapshot.leaseLost, try !lease.heartbeat(runID: snapshot.runID, on: connection) {
                    state.withLock { $0.leaseLost = true }
                    logger.warning("the job lease was taken over during an outage; the run re-takes it before it goes on", metadata: ["purpose": "\(lease.claim.purpose)"])
                }
                if failing { logger.notice("heartbeat restored") }
                failing = false
                written = (stage, Date())
            } catch {
                if !failing { logger.warning("heartbeat failed; retrying", metadata: ["error": "\(error)"]) }
                failing = true
                written.at = Date()
                connection = nil
            }
        }
    }

    /// Runs on the signal watchdog when the grace is over: the row says `interrupted` with its
    /// stage, the lease is given up; the process then exits 5. The server rolls back whatever
    /// transaction the run had open.
    private func lastWords() {
        let (runID, lease) = state.withLock { ($0.runID, $0.lease) }
        guard runID != nil || lease != nil, let connection = quickConnection() else { return }
        let stage = RunStage.current
        if let runID {
            _ = try? connection.query(
                "UPDATE danser.runs SET status = 'interrupted', finished_at = now(), stage = coalesce($2, stage), error = $3 WHERE run_id = $1 AND status = 'running'",
                [.int64(runID), .optionalText(stage), .text("stopped by a signal during \(stage ?? "start-up"); nothing was half-published")])
        }
        if let lease { try? lease.release(on: connection) }
    }
}

/// The stage the current run is in, for the heartbeat and the ledger (set by each stage).
enum RunStage {
    private static let name = Mutex<String?>(nil)

    static func enter(_ stage: String) { name.withLock { $0 = stage } }
    static var current: String? { name.withLock { $0 } }
}
