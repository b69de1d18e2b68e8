import Foundation
import Testing

@testable import FeatureStore

/// Runs the built `danser-batch` against a real PostgreSQL: imports, exit codes, quarantine.
@Suite struct ImportEndToEndTests {
    func count(_ sql: String, _ database: ConnectionConfiguration) throws -> Int64 {
        try Connection(database).query(sql).scalar()?.int64Value ?? -1
    }

    /// Needs ../shared/data/samples (skipped without it).
    @Test(.enabled(if: Harness.samplesFolder != nil, "needs ../shared/data/samples"))
    func importsEverySampleFormatOnceAndReimportIsANoOp() throws {
        let database = try Harness.makeDatabase()
        let folder = Harness.samplesFolder!
        let expected: [(String, String, Int64)] = [
            ("diginetica-train-item-views-sample.csv", "diginetica", 12_391),
            ("yoochoose-clicks-100k-train.tsv", "yoochoose-tsv", 70_278),
            ("yoochoose-clicks-100k-test.tsv", "yoochoose-tsv", 13_568),
            ("retailrocket-events-sample.tsv", "retailrocket", 10_080),
        ]
        let first = try Harness.run(["import"] + expected.map { "\(folder)/\($0.0)" }, database: database)
        #expect(first.status == 0, "\(first.stderr)")
        for (file, format, rows) in expected {
            #expect(first.stdout.contains("\(file): \(rows) rows new, 0 duplicate, 0 quarantined (\(format)"), "\(first.stdout)")
        }
        let total = expected.reduce(0) { $0 + $1.2 }
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == total)

        let again = try Harness.run(["import", "\(folder)/\(expected[0].0)"], database: database)
        #expect(again.status == 0)
        #expect(again.stdout.contains("already imported"))
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == total)
        #expect(try count("SELECT count(*) FROM danser.imports", database) == Int64(expected.count))
        // The run ledger has one closed row per import command.
        #expect(try count("SELECT count(*) FROM danser.runs WHERE command = 'import' AND status = 'succeeded'", database) == 2)
        #expect(try count("SELECT (row_counts->>'imported')::int8 FROM danser.runs ORDER BY run_id LIMIT 1", database) == total)
        // Ids are kept as they came; times are right (first DIGINETICA row: 2016-05-09 + 526309 ms).
        let first1 = try Connection(database).query(
            "SELECT count(*), min(event_time) FROM danser.click_log WHERE session_id = '1' AND item_id = '81766' AND import_id = 1").rows()
        #expect(first1.first?[0] == .int64(1))
        #expect(first1.first?[1] == .timestamptz(1_462_752_000_000_000 + 526_309_000))
    }

    @Test func everyBadRowKindIsQuarantinedAndTheExitCodeSaysSo() throws {
        let database = try Harness.makeDatabase()
        var bytes = Array("session_id,item_id,timestamp\n".utf8)
        bytes += Array("s1,i1,2016-01-01T00:00:00Z\n".utf8)                 // line 2: good
        bytes += Array("s1,2016-01-01T00:00:00Z\n".utf8)                    // 3: missing field
        bytes += Array("s2,i2,yesterday\n".utf8)                             // 4: unparseable timestamp
        bytes += Array("s2,i2,2999-01-01T00:00:00Z\n".utf8)                  // 5: future timestamp
        bytes += [0x73, 0xC3, 0x28] + Array(",i3,2016-01-01T00:00:00Z\n".utf8)  // 6: invalid UTF-8
        bytes += Array("s3,\(String(repeating: "x", count: 200)),2016-01-01T00:00:00Z\n".utf8)  // 7: too long
        bytes += Array("s1,i2,2016-01-01T00:01:00Z\n".utf8)                 // 8: good
        let csv = try Harness.temporaryFile(bytes)
        let run = try Harness.run(["import", csv, "--max-line-length", "100"], database: database)
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("2 rows new, 0 duplicate, 5 quarantined"))
        let rows = try Connection(database).query("SELECT source, line_number, reason FROM danser.quarantine ORDER BY line_number").rows()
        let reasons = rows.map { ($0[1].int64Value ?? 0, $0[2].stringValue ?? "") }
        #expect(reasons.map(\.0) == [3, 4, 5, 6, 7])
        for (line, prefix) in zip(reasons, ["missing field", "unparseable timestamp", "timestamp in the future", "invalid UTF-8", "line too long"]) {
            #expect(line.1.hasPrefix(prefix), "line \(line.0): \(line.1)")
        }
        #expect(rows.first?[0] == .text((csv as NSString).lastPathComponent))

        // A numeric-id format: a non-numeric id is quarantined too.
        let tsv = try Harness.temporaryFile(Array("SessionId\tItemId\tTime\n1\t2\t1396860669.277\nabc\t2\t1396860669.5\n".utf8), suffix: ".tsv")
        let second = try Harness.run(["import", tsv], database: database)
        #expect(second.status == 3)
        #expect(try count("SELECT count(*) FROM danser.quarantine WHERE reason LIKE 'non-numeric id%'", database) == 1)
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == 3)
    }

    @Test func gzipAndRawYoochooseAreReadDirectly() throws {
        let database = try Harness.makeDatabase()
        let text = "1,2014-04-07T10:51:09.277Z,214536502,0\n1,2014-04-07T10:54:09.868Z,214536500,0\n2,2014-04-07T13:56:37.614Z,214662742,0\n"
        let plain = try Harness.temporaryFile(Array(text.utf8), suffix: ".dat")
        let gzipped = plain + ".gz"
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["sh", "-c", "gzip -c '\(plain)' > '\(gzipped)'"]
        try gzip.run()
        gzip.waitUntilExit()
        let run = try Harness.run(["import", gzipped], database: database)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("3 rows new, 0 duplicate, 0 quarantined (yoochoose"))
        #expect(try Connection(database).query("SELECT min(event_time) FROM danser.click_log").scalar() == .timestamptz(1_396_867_869_277_000))
    }

    /// Needs ../shared/data/diginetica/clicks.csv.gz (skipped without it).
    @Test(.enabled(if: Harness.samplesFolder != nil, "needs ../shared/data"))
    func fullDigineticaImportKeepsMemoryBounded() throws {
        let database = try Harness.makeDatabase()
        let file = (Harness.samplesFolder! as NSString).deletingLastPathComponent + "/diginetica/clicks.csv.gz"
        let run = try Harness.run(["import", file], database: database)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("982961 rows new, 0 duplicate, 0 quarantined (generic-csv"))
        // 982,961 rows (about 45 MB of COPY data) go through a process that stays small.
        let peak = run.stdout.split(separator: "\n").first { $0.hasPrefix("peak memory: ") }
            .flatMap { Int($0.dropFirst("peak memory: ".count).prefix { $0.isNumber }) }
        #expect(peak.map { $0 < 96 } == true, "peak memory: \(peak.map(String.init) ?? "not printed") MiB")
        #expect(try count("SELECT count(DISTINCT session_id) FROM danser.click_log", database) == 202_633)
    }

    @Test func aDamagedFileImportsNothingAndAGoodOneStillImports() throws {
        let database = try Harness.makeDatabase()
        var text = "session_id,item_id,timestamp\n"
        for i in 0..<50_000 { text += "s\(i / 5),i\(i % 977),2016-01-01T00:00:00Z\n" }
        let plain = try Harness.temporaryFile(Array(text.utf8))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", plain]
        try gzip.run()
        gzip.waitUntilExit()
        // Cut the gzip file in half: the reader fails after streaming part of it.
        let whole = try Data(contentsOf: URL(fileURLWithPath: plain + ".gz"))
        let damaged = plain + ".cut.gz"
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: damaged))
        let failed = try Harness.run(["import", damaged], database: database)
        #expect(failed.status == 65, "\(failed.stderr)")
        #expect(failed.stderr.contains("damaged"))
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == 0)
        #expect(try count("SELECT count(*) FROM danser.imports", database) == 0)
        #expect(try count("SELECT count(*) FROM danser.runs WHERE command = 'import' AND status = 'failed' AND error LIKE '%damaged%'", database) == 1)
        let good = try Harness.run(["import", plain + ".gz"], database: database)
        #expect(good.status == 0)
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == 50_000)
    }

    @Test func failuresAreOneLineWithTheirOwnExitCode() throws {
        // Missing file: 66, before touching the database.
        let missing = try Harness.run(["import", "/nonexistent/clicks.csv"], database: nil, environment: ["DATABASE_URL": "postgresql://127.0.0.1:1/x"])
        #expect(missing.status == 66)
        #expect(missing.stderr.split(separator: "\n").count == 1)

        // Unreachable database: 69, and the password never shows.
        let file = try Harness.temporaryFile(Array("s,i,2016-01-01T00:00:00Z\n".utf8))
        let unreachable = try Harness.run(["migrate"], database: nil, environment: [
            "DATABASE_URL": "postgresql://bob:Sup3rSecret@127.0.0.1:1/x?connect_timeout=2",
        ])
        #expect(unreachable.status == 69, "\(unreachable.stderr)")
        #expect(!unreachable.stderr.contains("Sup3rSecret"))
        #expect(unreachable.stderr.contains("bob@127.0.0.1:1/x"))

        // A password on the command line is refused (ps would show it): 64.
        let usage = try Harness.run(["import", file, "--database-url", "postgresql://bob:pw@localhost/x"], database: nil)
        #expect(usage.status == 64)

        // Unrecognised format: 65.
        let garbage = try Harness.temporaryFile(Array("hello world\n".utf8))
        let database = try Harness.makeDatabase()
        let unknown = try Harness.run(["import", garbage], database: database)
        #expect(unknown.status == 65, "\(unknown.stderr)")

        // Permission denied: 77.
        let admin = try Connection(database)
        let role = "nobody_\(UInt32.random(in: 0...UInt32.max))"
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        try admin.query("CREATE ROLE \(role) LOGIN")
        try admin.query("REVOKE ALL ON SCHEMA danser FROM PUBLIC")
        let denied = try Harness.run(["import", file], database: database.withUser(role))
        #expect(denied.status == 77, "\(denied.stderr)")
        // One line for the failure, after the line that names the database in use.
        #expect(denied.stderr.split(separator: "\n").filter { !$0.contains("using database") }.count == 1, "\(denied.stderr)")
    }

    @Test func migrateIsIdempotentAndDetectsAnEditedMigration() throws {
        let database = try Harness.makeDatabase()
        let first = try Harness.run(["migrate"], database: database)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("applied 0001_feature_store"))
        let second = try Harness.run(["migrate"], database: database)
        #expect(second.stdout.contains("0 applied"))
        // A copy of sql/ with an edited, already-applied migration: exit 78.
        let folder = Harness.scratchFolder + "/sql-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: Harness.projectRoot + "/sql", toPath: folder)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/0001_feature_store.sql"))
        handle.seekToEndOfFile()
        handle.write(Data("\n-- an edit\n".utf8))
        try handle.close()
        let edited = try Harness.run(["migrate"], database: database, environment: ["DANSER_SQL_DIR": folder])
        #expect(edited.status == 78)
        #expect(edited.stderr.contains("0001_feature_store was edited"))
    }
}
