import Foundation
import Testing

@testable import FeatureStore

/// Password authentication needs a server whose pg_hba.conf asks for one, so this suite starts
/// its own small cluster (the shared test server trusts its socket).
@Suite struct PasswordEndToEndTests {
    @Test func wrongPasswordIsOneLineExit77AndNeverShowsThePassword() throws {
        let folder = "/tmp/danser-pw-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        var server = EmbeddedServer(stateDirectory: folder)
        server.unsafeFast = true
        defer {
            try? server.stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
        let admin = try Connection(try server.start())
        try admin.query("CREATE ROLE alice LOGIN PASSWORD 'right-Passw0rd'")
        // alice must give a password; everyone else is still trusted on the socket.
        let hba = server.dataDirectory + "/pg_hba.conf"
        let original = try String(contentsOfFile: hba, encoding: .utf8)
        try ("local all alice scram-sha-256\n" + original).write(toFile: hba, atomically: false, encoding: .utf8)
        try admin.query("SELECT pg_reload_conf()")
        Thread.sleep(forTimeInterval: 0.5)

        let target = "host=\(server.socketDirectory) port=\(server.port) dbname=\(server.databaseName) user=alice"
        let wrong = try Harness.run(["migrate"], database: nil, environment: ["DATABASE_URL": target, "PGPASSWORD": "wrong-Passw0rd"])
        #expect(wrong.status == 77, "\(wrong.stderr)")
        // One line for the failure, after the line that names the database in use.
        #expect(wrong.stderr.split(separator: "\n").filter { !$0.contains("using database") }.count == 1, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("authentication failed"))
        #expect(!wrong.stderr.contains("wrong-Passw0rd") && !wrong.stdout.contains("wrong-Passw0rd"))

        let inURL = try Harness.run(["migrate"], database: nil, environment: ["DATABASE_URL": target + " password=wrong-Passw0rd"])
        #expect(inURL.status == 77)
        #expect(!inURL.stderr.contains("wrong-Passw0rd"))

        // The right password from PGPASSWORD connects and migrates.
        try admin.query("GRANT CREATE ON DATABASE \(server.databaseName) TO alice")
        let right = try Harness.run(["migrate"], database: nil, environment: ["DATABASE_URL": target, "PGPASSWORD": "right-Passw0rd"])
        #expect(right.status == 0, "\(right.stderr)")
    }
}
