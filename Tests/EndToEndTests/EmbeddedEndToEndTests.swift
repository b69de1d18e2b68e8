import Foundation
import Testing

@testable import FeatureStore

/// With no database configured, the executable runs its own PostgreSQL in the state folder.
@Suite struct EmbeddedEndToEndTests {
    @Test func dbCommandsManageTheEmbeddedServerAndImportUsesIt() throws {
        let state = Harness.scratchFolder + "/state-\(UInt16.random(in: 0...UInt16.max))"
        let environment = ["DANSER_STATE_DIR": state]
        defer { _ = try? Harness.run(["db", "stop"], database: nil, environment: environment) }

        let before = try Harness.run(["db", "status"], database: nil, environment: environment)
        #expect(before.status == 69)
        #expect(before.stdout.contains("not initialized"))

        // Nothing configured: import starts the embedded server itself.
        let file = try Harness.temporaryFile(Array("session_id,item_id,timestamp\na,b,2016-01-01T00:00:00Z\n".utf8))
        let imported = try Harness.run(["import", file], database: nil, environment: environment)
        #expect(imported.status == 0, "\(imported.stderr)")
        let status = try Harness.run(["db", "status"], database: nil, environment: environment)
        #expect(status.status == 0)
        #expect(status.stdout.contains("running"))

        let url = try Harness.run(["db", "url"], database: nil, environment: environment).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("postgresql://"))
        let connection = try Connection(ConnectionConfiguration(url))
        #expect(try connection.query("SELECT count(*) FROM danser.click_log").scalar() == .int64(1))
        // Unix socket only: the server listens on no TCP address.
        #expect(try connection.query("SHOW listen_addresses").scalar() == .text(""))

        let started = try Harness.run(["db", "start"], database: nil, environment: environment)
        #expect(started.status == 0)
        #expect(started.stdout.contains("DATABASE_URL=\(url)"))

        let stopped = try Harness.run(["db", "stop"], database: nil, environment: environment)
        #expect(stopped.status == 0)
        #expect(try Harness.run(["db", "status"], database: nil, environment: environment).status == 69)
    }

    /// A relative --state-dir is the folder under the current directory. It once made the socket's
    /// folder a relative path, which libpq took for a host name: the server started and nothing
    /// could reach it.
    @Test func aRelativeStateFolderIsTakenFromTheCurrentDirectory() throws {
        let folder = Harness.scratchFolder + "/cwd-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func run(_ arguments: [String]) throws -> Harness.Run {
            try Harness.run(arguments + ["--state-dir", "state"], database: nil, in: folder)
        }
        defer { _ = try? run(["db", "stop"]) }
        #expect(try run(["migrate"]).status == 0)
        let url = try run(["db", "url"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let host = URLComponents(string: url)?.queryItems?.first { $0.name == "host" }?.value
        #expect(host == folder + "/state/postgres/run", "\(url)")
        #expect(try Connection(ConnectionConfiguration(url)).query("SELECT count(*) FROM danser.schema_migrations").scalar()?.int64Value ?? 0 > 10)
    }
}
