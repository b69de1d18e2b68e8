import Foundation
import Testing

@testable import FeatureStore

/// A real PostgreSQL for the tests: the server named by `TEST_DATABASE_URL`, or else a
/// throwaway embedded cluster in a temp folder, started once per test process and stopped
/// at exit. Each test gets its own fresh database, so tests run in parallel.
enum TestDatabase {
    /// The server, as its admin (started on first use).
    static let server: Result<ConnectionConfiguration, any Error> = {
        if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty {
            return .success(ConnectionConfiguration(url))
        }
        let folder = "/tmp/danser-test-\(getpid())"
        var embedded = EmbeddedServer(stateDirectory: folder)
        embedded.unsafeFast = true
        embedded.databaseName = "postgres"
        TestClusterFolder.path = folder
        atexit {
            guard let folder = TestClusterFolder.path else { return }
            try? EmbeddedServer(stateDirectory: folder).stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
        return Result { try embedded.start() }
    }()

    /// A new, empty database on the test server.
    static func makeDatabase(prefix: String = "t") throws -> ConnectionConfiguration {
        let admin = try server.get()
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff)"
        let connection = try Connection(admin)
        try connection.query("CREATE DATABASE \(name)")
        return admin.withDatabase(name)
    }

    /// Runs `psql` (a second, separate client process) and returns its trimmed output.
    static func psql(_ configuration: ConnectionConfiguration, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        process.environment = environment
        // Test servers use trust authentication, so this string carries no password.
        process.arguments! += ["-d", configuration.expandedConninfo()]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The temp folder of the throwaway cluster, for the exit hook.
enum TestClusterFolder {
    nonisolated(unsafe) static var path: String?
}

/// The project's `sql/` folder, found from this file's path.
enum ProjectFiles {
    static var sqlDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("sql/0001_feature_store.sql").path) {
                return url.appendingPathComponent("sql").path
            }
        }
        return "sql"
    }

    static func migrations() throws -> [Migration] { try Migration.load(from: sqlDirectory) }

    static var rolesScript: String {
        (try? String(contentsOfFile: sqlDirectory + "/roles.sql", encoding: .utf8)) ?? ""
    }

    /// A fresh database with the whole schema applied.
    static func migratedDatabase() throws -> ConnectionConfiguration {
        let configuration = try TestDatabase.makeDatabase()
        try Migrator(try migrations()).apply(on: try Connection(configuration))
        return configuration
    }
}
