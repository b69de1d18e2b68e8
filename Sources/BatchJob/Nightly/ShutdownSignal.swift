import Foundation
import Synchronization

/// SIGTERM (from a scheduler) or SIGINT (Ctrl-C) asks the run to stop at the next safe point:
/// between training batches, between stages, between scoring batches. Nothing half-published
/// stays visible; the ledger says "interrupted". A run that has not stopped when the grace
/// (`DANSER_SHUTDOWN_GRACE_SECONDS`, default 5) is over — blocked in a statement, a COPY or a
/// wait — is ended by a watchdog: the run envelope's last words record `interrupted`, then the
/// process exits 5. Whatever transaction it had open is rolled back by the server.
enum ShutdownSignal {
    static let requested = Atomic<Bool>(false)
    private static let installed = Atomic<Bool>(false)
    private static let lastWords = Mutex<(owner: ObjectIdentifier?, grace: Double?, words: (@Sendable () -> Void)?)>((nil, nil, nil))

    static let defaultGrace: Double = {
        if let text = ProcessInfo.processInfo.environment["DANSER_SHUTDOWN_GRACE_SECONDS"], let value = Double(text), value >= 0 { return value }
        return 5
    }()

    static func install() {
        guard installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        signal(SIGTERM) { _ in ShutdownSignal.requested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in ShutdownSignal.requested.store(true, ordering: .relaxed) }
        let watchdog = Thread { ShutdownSignal.watch() }
        watchdog.name = "shutdown watchdog"
        watchdog.start()
    }

    /// What to record when the grace is over (nil: nothing), and the grace (nil: the default).
    static func setLastWords(owner: ObjectIdentifier? = nil, grace: Double?, _ words: (@Sendable () -> Void)?) {
        lastWords.withLock { $0 = (owner, grace, words) }
    }

    /// Forgets the last words of `owner`, if they are still the ones registered.
    static func clearLastWords(owner: ObjectIdentifier) {
        lastWords.withLock { if $0.owner == owner { $0 = (nil, $0.grace, nil) } }
    }

    private static func watch() {
        while !isRequested { usleep(50_000) }
        let grace = lastWords.withLock { $0.grace } ?? defaultGrace
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline { usleep(50_000) }
        lastWords.withLock { $0.words }?()
        printError("stopped by a signal (no safe point reached within \(grace) s); exit 5")
        _exit(ExitStatus.interrupted.rawValue)
    }

    static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Throws `JobError.interrupted` when a stop was asked for.
    static func check(_ stage: String) throws {
        if isRequested { throw JobError(.interrupted, "stopped by a signal during \(stage); nothing was half-published") }
    }
}

/// Failures of a job that are not the database's or the model's: each maps to an exit code.
struct JobError: Error, CustomStringConvertible {
    enum Code: Sendable {
        case usage, tooLittleData, interrupted, auditFailed, lockHeld, configuration
        /// The state changed under a compare-and-swap (the registry since a command planned its change).
        case conflict
    }
    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }

    var exitStatus: ExitStatus {
        switch code {
        case .usage: return .usage
        case .tooLittleData: return .dataError
        case .interrupted: return .interrupted
        case .auditFailed: return .auditFailed
        case .lockHeld: return .skipped
        case .configuration: return .config
        case .conflict: return .tempFail
        }
    }
}
