import ArgumentParser
import DANSeR
import FeatureStore

/// Turns an error into one clear line on standard error and the documented exit code.
enum FailureReport {
    static func exitStatus(for error: FeatureStoreError) -> ExitStatus {
        switch error.code {
        case .configuration, .migrationMismatch: return .config
        case .authenticationFailed, .permissionDenied: return .noPermission
        case .connectionFailed, .embeddedServer: return .unavailable
        case .connectionLost: return .tempFail
        case .decodingFailed, .corruptBlob: return .dataError
        default:
            if let state = error.sqlState, error.isTransient || state.hasPrefix("53") { return .tempFail }
            if let state = error.sqlState, state.hasPrefix("22") || state.hasPrefix("23") { return .dataError }
            // A configured source table or column that does not exist.
            if let state = error.sqlState, ["42P01", "42703", "3F000"].contains(state) { return .config }
            return .software
        }
    }

    static func exitStatus(for error: DANSeRError) -> ExitStatus {
        switch error.code {
        case .cancelled: return .interrupted
        case .invalidConfiguration, .notImplemented: return .config
        default: return .dataError
        }
    }

    /// Prints `error` and returns the ExitCode to throw; lets ArgumentParser's own errors through.
    static func exit(_ error: any Error) -> any Error {
        switch error {
        case let error as FeatureStoreError:
            printError(error.description)
            return ExitCode(exitStatus(for: error).rawValue)
        case let error as JobError:
            printError(error.description)
            return ExitCode(error.exitStatus.rawValue)
        case let error as DANSeRError:
            printError(error.description)
            return ExitCode(exitStatus(for: error).rawValue)
        case let error as InputError:
            printError(error.description)
            return ExitCode(error.code == .corrupt ? ExitStatus.dataError.rawValue : ExitStatus.noInput.rawValue)
        default:
            return error
        }
    }

    /// Runs `body`, mapping failures to one line and an exit code.
    static func run(_ body: () throws -> Void) throws {
        do { try body() } catch { throw exit(error) }
    }
}
