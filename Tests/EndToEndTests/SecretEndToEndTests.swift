import Foundation
import Testing

@testable import FeatureStore

/// Passwords in connection strings of every form, valid or not, through every database
/// command: no output stream (text or JSON logs), ledger row or written file ever shows one.
@Suite struct SecretEndToEndTests {
    static let password = "Pw-\(UInt32.random(in: 100_000...999_999))-secret"

    /// Commands that take a database, with arguments that reach the database quickly.
    static let commands: [[String]] = [
        ["migrate"], ["status"], ["models"], ["models", "promote", "1"], ["models", "rollback"],
        ["import", "CLICKS"], ["nightly", "--as-of", "2026-11-28"], ["score", "--as-of", "2026-11-28"],
        ["backfill", "--from", "2026-11-27", "--to", "2026-11-28"], ["prune", "--keep-days", "30", "--keep-models", "5", "--dry-run"],
    ]

    /// Strings that do not parse, each holding the password.
    static var malformed: [String] {
        let pw = password
        return [
            "postgresql://u:\(pw)@[::1/db",
            "postgres://u:\(pw)@host/db?password",
            "postgresql://u:\(pw)@host/db?bogus_option=1",
            "host=localhost password='\(pw)",
            "u:\(pw)@host/db",
            "postgresql://u:\(pw)@host:5432/db?sslmode=require&password=\(pw)&&",
        ]
    }

    private func assertClean(_ run: Harness.Run, _ context: String) {
        #expect(!run.stdout.contains(Self.password), "stdout of \(context): \(run.stdout)")
        #expect(!run.stderr.contains(Self.password), "stderr of \(context): \(run.stderr)")
    }

    @Test func malformedConnectionStringsAreConfigErrorsThatNeverShowThePassword() throws {
        let clicks = try Harness.temporaryFile(Array("session_id,item_id,timestamp\ns1,i1,2026-11-20T10:00:00Z\n".utf8))
        let folder = Harness.scratchFolder + "/secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = ["DANSER_METRICS_DIR": folder, "DANSER_REPORT_DIR": folder, "DANSER_STATE_DIR": folder + "/state"]
        for (urlIndex, url) in Self.malformed.enumerated() {
            // Each command meets every URL, and both log formats across them.
            for (commandIndex, command) in Self.commands.enumerated() {
                let arguments = command.map { $0 == "CLICKS" ? clicks : $0 }
                do {
                    let format = (urlIndex + commandIndex) % 2 == 0 ? "text" : "json"
                    let started = Date()
                    let run = try Harness.run(arguments + ["--log-format", format], database: nil,
                        environment: environment.merging(["DATABASE_URL": url]) { $1 })
                    let context = "\(arguments.joined(separator: " ")) (\(format)) with a malformed URL"
                    #expect(run.status == 78, "\(context): exit \(run.status), \(run.stderr)")
                    assertClean(run, context)
                    // A configuration error is not retried.
                    #expect(Date().timeIntervalSince(started) < 5, "\(context) took \(Date().timeIntervalSince(started)) s")
                }
            }
            // On the command line too (78, or 64 when it is refused for holding a password).
            let option = try Harness.run(["status", "--database-url", url], database: nil, environment: environment)
            #expect([64, 78].contains(option.status), "--database-url \(url): \(option.status) \(option.stderr)")
            assertClean(option, "--database-url")
        }
        try expectNoFileHolds(Self.password, under: folder)
    }

    @Test func validConnectionStringsWithAPasswordNeverShowIt() throws {
        // The test server trusts its clients, so it accepts any password: each form connects.
        let database = try Harness.makeDatabase()
        let fields = try #require(database.parsedFields()).merging(database.overrides) { $1 }
        let host = fields["host"] ?? "/tmp", port = fields["port"] ?? "5432", user = fields["user"] ?? "postgres"
        let dbname = try #require(fields["dbname"])
        let encodedHost = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? host
        let pw = Self.password
        let forms = [
            "postgresql://\(user):\(pw)@/\(dbname)?host=\(encodedHost)&port=\(port)",
            "postgresql:///\(dbname)?host=\(encodedHost)&port=\(port)&user=\(user)&password=\(pw)",
            "host=\(host) port=\(port) user=\(user) dbname=\(dbname) password=\(pw)",
            "host=\(host) port=\(port) user=\(user) dbname=\(dbname) password='\(pw)'",
        ]
        let clicks = try Harness.temporaryFile(Array("session_id,item_id,timestamp\ns1,i1,2026-11-20T10:00:00Z\ns1,bad\n".utf8))
        let folder = Harness.scratchFolder + "/secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = ["DANSER_METRICS_DIR": folder, "DANSER_REPORT_DIR": folder, "DANSER_STATE_DIR": folder + "/state"]
        for (urlIndex, url) in forms.enumerated() {
            for (commandIndex, command) in Self.commands.enumerated() {
                let arguments = command.map { $0 == "CLICKS" ? clicks : $0 }
                do {
                    let format = (urlIndex + commandIndex) % 2 == 0 ? "text" : "json"
                    let run = try Harness.run(arguments + ["--log-format", format], database: nil,
                        environment: environment.merging(["DATABASE_URL": url]) { $1 })
                    assertClean(run, "\(arguments.joined(separator: " ")) (\(format)) with a valid URL")
                }
            }
            // The password of a valid string that cannot connect (nothing listens on port 1).
            let refused = url.replacingOccurrences(of: "port=\(port)", with: "port=1")
            let run = try Harness.run(["status", "--log-format", "json"], database: nil,
                environment: environment.merging(["DATABASE_URL": refused]) { $1 })
            #expect(run.status != 0)
            assertClean(run, "status against a closed port")
        }
        // The ledger, quarantine and every other table, as text.
        let connection = try Connection(database)
        let tables = try connection.query(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('danser', 'bi')").rows()
        for row in tables {
            guard let table = row.first?.stringValue else { continue }
            let hits = try connection.query("SELECT count(*) FROM \(table) t WHERE t::text LIKE '%' || $1 || '%'", [.text(pw)])
            #expect(try hits.scalar()?.int64Value == 0, "\(table) holds the password")
        }
        try expectNoFileHolds(pw, under: folder)
    }

    private func expectNoFileHolds(_ secret: String, under folder: String) throws {
        guard let files = FileManager.default.enumerator(atPath: folder) else { return }
        for case let file as String in files {
            let path = folder + "/" + file
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            // Skip the embedded server's own data files (never created here with a configured server).
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            #expect(!String(decoding: data, as: UTF8.self).contains(secret), "\(path) holds the password")
        }
    }
}
