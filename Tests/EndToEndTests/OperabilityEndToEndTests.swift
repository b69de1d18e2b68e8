@testable import FeatureStore
import Foundation
import Testing

/// Settings in one place and no silent embedded fallback, as an operator meets them.
@Suite struct ConfigurationEndToEndTests {
    /// An env file with an unquoted '&' or an empty DATABASE_URL= once sent the job to a fresh
    /// embedded cluster. Now it is exit 78 naming the variable, and no cluster is created.
    @Test func anEmptyDatabaseSettingExits78AndStartsNoEmbeddedServer() throws {
        let state = Harness.scratchFolder + "/state-empty-\(UInt32.random(in: 0...UInt32.max))"
        for (variable, arguments) in [("DATABASE_URL", ["migrate"]), ("DATABASE_URL", ["nightly", "--as-of", "2026-11-01"]), ("PGHOST", ["status"])] {
            let run = try Harness.run(arguments + ["--log-format", "text"], database: nil, environment: [variable: "", "DANSER_STATE_DIR": state])
            #expect(run.status == 78, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(variable), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: state), "an embedded cluster was created for \(arguments)")
        }
    }

    /// cron's environment file could not carry --source-table; the configuration file can.
    @Test func theConfigurationFileCarriesTheSourceTable() throws {
        let database = try Harness.makeDatabase()
        let file = try Harness.temporaryFile(Array("[source]\ntable = \"public.no_such_clicks\"\n".utf8), suffix: ".toml")
        let run = try Harness.run(["nightly", "--as-of", "2026-11-01", "--log-format", "text"], database: database, environment: ["DANSER_CONFIG": file])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("no_such_clicks"), "\(run.stderr)")
        let config = try Harness.run(["config", "--log-format", "text"], database: database, environment: ["DANSER_CONFIG": file])
        #expect(config.status == 0, "\(config.stderr)")
        let line = config.stdout.split(separator: "\n").first { $0.hasPrefix("source.table ") }
        #expect(line?.contains("public.no_such_clicks") == true && line?.hasSuffix("file \(file):2") == true, "\(config.stdout)")
    }

    /// A value that parses but that its option refuses is still a configuration error when it came
    /// from the file or the environment (78), and the message says where to fix it.
    @Test func anOutOfRangeValueFromTheFileNamesTheFile() throws {
        let file = try Harness.temporaryFile(Array("[training]\nhistory_days = 0\n".utf8), suffix: ".toml")
        let run = try Harness.run(["nightly", "--as-of", "2026-11-01", "--log-format", "text"], database: nil, environment: ["DANSER_CONFIG": file])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("--history-days") && run.stderr.contains("file \(file):2"), "\(run.stderr)")
        let flag = try Harness.run(["nightly", "--as-of", "2026-11-01", "--history-days", "0", "--log-format", "text"], database: nil)
        #expect(flag.status == 64, "\(flag.stderr)")
    }

    /// The first log line says which database the command uses, without its password.
    @Test func theFirstLogLineNamesTheDatabase() throws {
        let database = try Harness.makeDatabase()
        let url = database.expandedConninfo() + " password=Hush-Hush-42"
        let run = try Harness.run(["migrate", "--log-format", "json"], database: nil, environment: ["DATABASE_URL": url])
        let first = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
        #expect((object?["message"] as? String)?.hasPrefix("using database ") == true, "\(first)")
        #expect((object?["database"] as? String)?.contains("/e2e_") == true, "\(first)")
        #expect(!run.stderr.contains("Hush-Hush-42") && !run.stdout.contains("Hush-Hush-42"))
    }
}

/// `status` as a health check: reads only, shows each run in full, exits 7 when the newest day
/// is missing, empty or stale.
@Suite struct StatusEndToEndTests {
    @Test func neverStartsTheEmbeddedServer() throws {
        let state = Harness.scratchFolder + "/state-status-\(UInt32.random(in: 0...UInt32.max))"
        let run = try Harness.run(["status", "--log-format", "text"], database: nil, environment: ["DANSER_STATE_DIR": state])
        #expect(run.status == 69, "\(run.stderr)")
        #expect(run.stderr.contains("not running"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "status created the state folder")
    }

    @Test func neverMigrates() throws {
        let database = try Harness.makeDatabase()
        let run = try Harness.run(["status", "--log-format", "text"], database: database)
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("danser-batch migrate"), "\(run.stderr)")
        #expect(try Connection(database).query("SELECT to_regnamespace('danser') IS NULL").scalar() == .bool(true))
    }

    @Test func exitCodeFollowsTheNewestPublishedDay() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate", "--log-format", "json"], database: database).status == 0)
        let connection = try Connection(database)
        func status(_ extra: [String] = []) throws -> Harness.Run {
            try Harness.run(["status", "--log-format", "text"] + extra, database: database)
        }
        let none = try status()
        #expect(none.status == 7, "\(none.stdout)\(none.stderr)")
        #expect(none.stdout.contains("UNHEALTHY: no day of recommendations has been published"))

        try connection.query("""
            INSERT INTO danser.published_recommendations (as_of, run_id, model_version, sessions, row_count)
            VALUES (current_date, 1, 1, 5, 100)
            """)
        let healthy = try status()
        #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
        #expect(healthy.stdout.contains("health: ok"))

        try connection.query("UPDATE danser.published_recommendations SET sessions = 0")
        let empty = try status()
        #expect(empty.status == 7)
        #expect(empty.stdout.contains("has no sessions"))

        try connection.query("UPDATE danser.published_recommendations SET sessions = 5, as_of = current_date - 3")
        let stale = try status()
        #expect(stale.status == 7)
        #expect(stale.stdout.contains("more than --max-age 36 h"), "\(stale.stdout)")
        #expect(try status(["--max-age", "200"]).status == 0)
        #expect(try Harness.run(["status"], database: database, environment: ["DANSER_MAX_AGE_HOURS": "200"]).status == 0)
    }

    @Test func showsEachRunInFull() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate", "--log-format", "json"], database: database).status == 0)
        let error = "the day failed its audit: " + String(repeating: "a long reason, ", count: 20) + "end of reason"
        try Connection(database).query("""
            INSERT INTO danser.runs (command, as_of, status, finished_at, error, host, pid, stage, report_path, log_path)
            VALUES ('nightly', '2026-11-28', 'failed', now(), $1, 'batch-host-1', 4242, 'publish-recommendations',
                    '/var/lib/danser-batch/reports/run-1-2026-11-28.html', '/var/log/danser-batch/nightly-2026-11-28.log')
            """, [.text(error)])
        let run = try Harness.run(["status", "--log-format", "text"], database: database)
        #expect(run.status == 7)
        #expect(run.stdout.contains("error: \(error)"), "\(run.stdout)")
        #expect(run.stdout.contains("host batch-host-1 pid 4242"))
        #expect(run.stdout.contains("stage publish-recommendations"))
        #expect(run.stdout.contains("log: /var/log/danser-batch/nightly-2026-11-28.log"))
        #expect(run.stdout.contains("report: /var/lib/danser-batch/reports/run-1-2026-11-28.html"))
    }
}

/// With `--log-format json`, every line is JSON, the final error included, and carries the run id.
@Suite struct JSONLogEndToEndTests {
    @Test func everyLineIsJSONAndCarriesTheRunID() throws {
        let database = try Harness.makeDatabase()
        let run = try Harness.run(
            ["nightly", "--as-of", "2026-11-01", "--log-format", "json", "--source-table", "public.no_such_clicks"], database: database,
            environment: ["DANSER_LOG_FILE": "/var/log/danser-batch/nightly-2026-11-01.log"])
        #expect(run.status == 78, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        var sawRun = false
        for line in lines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("not JSON: \(line)")
                continue
            }
            if object["run_id"] != nil { sawRun = true } else { #expect(!sawRun, "a line after the run opened has no run id: \(line)") }
        }
        let last = try JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8)) as? [String: Any]
        #expect(last?["level"] as? String == "error")
        #expect((last?["message"] as? String)?.contains("no_such_clicks") == true)
        #expect(last?["run_id"] != nil)
        let logPath = try Connection(database).query("SELECT log_path FROM danser.runs ORDER BY run_id DESC LIMIT 1").scalar()
        #expect(logPath == .text("/var/log/danser-batch/nightly-2026-11-01.log"))
    }
}

/// cron/nightly.sh as cron runs it: an env file value cut short by an unquoted '&' stops it
/// (exit 78) before the job can fall back to an embedded database; the log file is all JSON.
@Suite struct CronWrapperEndToEndTests {
    static var script: String { Harness.projectRoot + "/cron/nightly.sh" }

    func runWrapper(_ envFile: String, environment: [String: String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.script, envFile]
        var base = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "TEST_DATABASE_URL"] { base[key] = nil }
        process.environment = base.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func anUnquotedAmpersandStopsTheRunAndTheLogIsOneFormat() throws {
        let folder = Harness.scratchFolder + "/cron-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let database = try Harness.makeDatabase()
        let url = "postgresql:///\(database.overrides["dbname"] ?? "")?host=x&port=1"
        let common = "DANSER_BATCH=\(Harness.executable)\nDANSER_LOG_DIR=\(folder)/logs\nDANSER_STATE_DIR=\(folder)/state\nDANSER_SQL_DIR=\(Harness.projectRoot)/sql\nDANSER_AS_OF=2026-11-01\n"
        let bad = folder + "/env-bad"
        try ("DATABASE_URL=\(url)\n" + common).write(toFile: bad, atomically: true, encoding: .utf8)
        let stopped = try runWrapper(bad, environment: [:])
        #expect(stopped.status == 78, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("DATABASE_URL"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/state"))

        // Quoted, the same kind of value works; an empty click log fails the day (exit 6), all in JSON.
        let good = folder + "/env-good"
        try ("DATABASE_URL=\"\(database.expandedConninfo())\"\n" + common).write(toFile: good, atomically: true, encoding: .utf8)
        let ran = try runWrapper(good, environment: [:])
        #expect(ran.status == 6, "\(ran.stderr)")
        let log = try String(contentsOfFile: folder + "/logs/nightly-2026-11-01.log", encoding: .utf8)
        for line in log.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
        }
        let logPath = try Connection(database).query("SELECT log_path FROM danser.runs ORDER BY run_id DESC LIMIT 1").scalar()
        #expect(logPath == .text(folder + "/logs/nightly-2026-11-01.log"))
    }
}
