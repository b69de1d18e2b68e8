@testable import FeatureStore
import Foundation

/// A real PostgreSQL for the end-to-end tests (`TEST_DATABASE_URL`, or a throwaway embedded
/// cluster started once per process and stopped at exit), and a way to run the built
/// `danser-batch` executable against a fresh database.
enum Harness {
    static let server: Result<ConnectionConfiguration, any Error> = {
        if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty {
            return .success(ConnectionConfiguration(url))
        }
        let folder = "/tmp/danser-e2e-\(getpid())"
        var embedded = EmbeddedServer(stateDirectory: folder)
        embedded.unsafeFast = true
        embedded.databaseName = "postgres"
        ClusterFolder.path = folder
        atexit {
            guard let folder = ClusterFolder.path else { return }
            try? EmbeddedServer(stateDirectory: folder).stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
        return Result { try embedded.start() }
    }()

    /// A new empty database; returns its configuration.
    static func makeDatabase() throws -> ConnectionConfiguration {
        let admin = try server.get()
        let name = "e2e_\(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff)"
        try Connection(admin).query("CREATE DATABASE \(name)")
        return admin.withDatabase(name)
    }

    /// The `danser-batch` executable: `DANSER_BATCH_BINARY` if set (CI points it at a release
    /// build, so training-heavy tests run at full speed), else the one built beside this bundle.
    static var executable: String {
        if let binary = ProcessInfo.processInfo.environment["DANSER_BATCH_BINARY"], !binary.isEmpty { return binary }
        let bundleFolder = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
        var folder = bundleFolder
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("danser-batch").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return bundleFolder.appendingPathComponent("danser-batch").path
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `danser-batch` with `DATABASE_URL` pointing at `database` (passed in the environment,
    /// never on the command line); `unset` names variables of this process the child must not see.
    static func run(
        _ arguments: [String], database: ConnectionConfiguration?, environment extra: [String: String] = [:],
        unset: [String] = [], in directory: String? = nil
    ) throws -> Run {
        let process = makeProcess(arguments, database: database, environment: extra, unset: unset)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        // Standard error goes to a file so that a full pipe can never block the child.
        let errPath = scratchFolder + "/\(UUID().uuidString).err"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A `danser-batch` process running in the background (output discarded), for kill tests.
    final class Background {
        let process: Process
        init(_ process: Process) { self.process = process }

        /// SIGKILL, as a crash or an out-of-memory kill would; waits until it is gone.
        func kill() {
            guard process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// Sends `signal` and waits (at most `timeout` seconds) for the exit status; nil if it
        /// did not end in time (it is then killed).
        func stop(with signal: Int32, timeout: Double = 60) -> Int32? {
            guard process.isRunning else { return process.terminationStatus }
            Foundation.kill(process.processIdentifier, signal)
            return wait(timeout: timeout)
        }

        /// Waits for the process to end; nil (and killed) if it did not within `timeout` seconds.
        func wait(timeout: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning {
                kill()
                return nil
            }
            return process.terminationStatus
        }

        /// Standard error, when started with `captureStandardError`.
        var standardError: String {
            guard let errorPath else { return "" }
            return String(decoding: FileManager.default.contents(atPath: errorPath) ?? Data(), as: UTF8.self)
        }
        var errorPath: String?
    }

    static func start(
        _ arguments: [String], database: ConnectionConfiguration, environment extra: [String: String] = [:], captureStandardError: Bool = false,
        standardInput: FileHandle? = nil
    ) throws -> Background {
        let process = makeProcess(arguments, database: database, environment: extra)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = standardInput ?? FileHandle.nullDevice
        var errorPath: String?
        if captureStandardError {
            let path = scratchFolder + "/\(UUID().uuidString).err"
            FileManager.default.createFile(atPath: path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            errorPath = path
        }
        try process.run()
        let background = Background(process)
        background.errorPath = errorPath
        return background
    }

    /// The executable with `DATABASE_URL` pointing at `database` (in the environment, never on
    /// the command line) and every other database variable of this process removed.
    static func makeProcess(
        _ arguments: [String], database: ConnectionConfiguration?, environment extra: [String: String], unset: [String] = []
    ) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "TEST_DATABASE_URL"] + unset {
            environment[key] = nil
        }
        if let database { environment["DATABASE_URL"] = database.expandedConninfo() }
        environment["DANSER_SQL_DIR"] = projectRoot + "/sql"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        return process
    }

    static var projectRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return "."
    }

    /// `../shared/data/samples`, or nil on a machine without it (tests then skip).
    static var samplesFolder: String? {
        let folder = URL(fileURLWithPath: projectRoot).deletingLastPathComponent().appendingPathComponent("shared/data/samples").path
        return FileManager.default.fileExists(atPath: folder) ? folder : nil
    }

    /// A folder for this process's scratch files, removed at exit.
    static let scratchFolder: String = {
        let folder = NSTemporaryDirectory() + "danser-e2e-files-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        ScratchFolder.path = folder
        atexit {
            if let folder = ScratchFolder.path { try? FileManager.default.removeItem(atPath: folder) }
        }
        return folder
    }()

    static func temporaryFile(_ bytes: [UInt8], suffix: String = ".csv") throws -> String {
        let path = scratchFolder + "/\(UUID().uuidString)\(suffix)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

enum ScratchFolder {
    nonisolated(unsafe) static var path: String?
}

enum ClusterFolder {
    nonisolated(unsafe) static var path: String?
}
