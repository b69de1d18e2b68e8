import Foundation
import Synchronization

/// SIGTERM (from a scheduler) or SIGINT (Ctrl-C) asks the run to stop at the next safe point:
/// between training batches, between stages, between scoring batches. Nothing half-published
/// stays visible; the ledger says "interrupted".
enum ShutdownSignal {
    static let requested = Atomic<Bool>(false)

    static func install() {
        signal(SIGTERM) { _ in ShutdownSignal.requested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in ShutdownSignal.requested.store(true, ordering: .relaxed) }
    }

    static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Throws `JobError.interrupted` when a stop was asked for.
    static func check(_ stage: String) throws {
        if isRequested { throw JobError(.interrupted, "stopped by a signal during \(stage); nothing was half-published") }
    }
}

/// Failures of a job that are not the database's or the model's: each maps to an exit code.
struct JobError: Error, CustomStringConvertible {
    enum Code: Sendable { case usage, tooLittleData, interrupted, auditFailed, lockHeld, configuration }
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
        }
    }
}
