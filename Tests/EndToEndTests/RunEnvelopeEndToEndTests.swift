@testable import FeatureStore
import Foundation
import Testing

/// The envelope of every run, tried as an operator would: who can stall the job (nobody but
/// the job), what a held lease says, how shards and a nightly exclude each other, what the
/// ledger says after a signal, a kill or an unreachable server, and a server restart survived.
@Suite struct RunEnvelopeEndToEndTests {
    static func migrated() throws -> ConnectionConfiguration {
        let database = try Harness.makeDatabase()
        let run = try Harness.run(["migrate", "--roles"], database: database)
        #expect(run.status == 0, "\(run.stderr)")
        return database
    }

    static func scalar(_ sql: String, _ database: ConnectionConfiguration) throws -> String? {
        let value = try Connection(database).query(sql).scalar()
        return value?.stringValue ?? value?.int64Value.map(String.init)
    }

    /// A lease row of a live holder elsewhere, as another host's run would leave it.
    static func holdLease(_ database: ConnectionConfiguration, scope: String = "exclusive", shareKey: String? = nil, purpose: String, runID: Int64, host: String, pid: Int32) throws {
        try Connection(database).query(
            "INSERT INTO danser.job_lease (scope, share_key, purpose, run_id, host, pid, expires_at) VALUES ($1, $2, $3, $4, $5, $6, now() + interval '10 minutes')",
            [.text(scope), .optionalText(shareKey), .text(purpose), .int64(runID), .text(host), .int32(pid)])
    }

    /// Finding 4: a BI login takes the old advisory job lock and tries to write the lease; the
    /// job goes on regardless.
    @Test func aBIReaderCannotStallTheJob() throws {
        let database = try Self.migrated()
        let login = "bi_reader_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try Connection(database)
        try admin.query("CREATE ROLE \(login) LOGIN IN ROLE danser_bi")
        defer { _ = try? admin.query("DROP ROLE IF EXISTS \(login)") }
        var readerConfiguration = database
        readerConfiguration.overrides["user"] = login
        let reader = try Connection(readerConfiguration)
        #expect(reader.user == login)
        // What stalled every nightly, prune and models command before.
        try reader.query("SELECT pg_advisory_lock($1)", [.int64(AdvisoryLock.key(for: "danser-batch nightly"))])
        #expect(throws: FeatureStoreError.self) {
            try reader.query("INSERT INTO danser.job_lease (scope, purpose, host, pid, expires_at) VALUES ('exclusive', 'x', 'h', 1, now() + interval '1 day')")
        }
        #expect(throws: FeatureStoreError.self) { try reader.query("LOCK TABLE danser.job_lease IN ACCESS EXCLUSIVE MODE") }
        let prune = try Harness.run(["prune", "--keep-days", "30", "--keep-models", "30"], database: database)
        #expect(prune.status == 0, "\(prune.stderr)")
        let rollback = try Harness.run(["models", "rollback"], database: database)
        #expect(rollback.status == 64, "\(rollback.stderr)")  // no previous champion: usage, not a lock
        #expect(try Self.scalar("SELECT count(*) FROM danser.runs WHERE command = 'prune' AND status = 'succeeded'", database) == "1")
    }

    /// Finding 4: a held lock names its holder (run id, host, pid, since when), on standard
    /// error and in the ledger.
    @Test func aHeldLeaseIsReportedWithItsHolder() throws {
        let database = try Self.migrated()
        try Self.holdLease(database, purpose: "nightly 2014-04-07", runID: 4242, host: "batch-7.example", pid: 31337)
        let prune = try Harness.run(["prune", "--keep-days", "30", "--keep-models", "30"], database: database)
        #expect(prune.status == 4)
        for part in ["run 4242", "nightly 2014-04-07", "batch-7.example", "pid 31337", "since 20"] {
            #expect(prune.stderr.contains(part), "\(part) in \(prune.stderr)")
        }
        let skipped = try Self.scalar("SELECT error FROM danser.runs WHERE command = 'prune' AND status = 'skipped'", database) ?? ""
        #expect(skipped.contains("run 4242") && skipped.contains("batch-7.example") && skipped.contains("pid 31337"), "\(skipped)")
        // Expired, it is taken over.
        try Connection(database).query("UPDATE danser.job_lease SET expires_at = now() - interval '1 second'")
        #expect(try Harness.run(["prune", "--keep-days", "30", "--keep-models", "30"], database: database).status == 0)
        #expect(try Self.scalar("SELECT count(*) FROM danser.job_lease", database) == "0")
    }

    /// Finding 5: the shards of one set share the lease; a nightly (or rerun) and a shard never
    /// run side by side.
    @Test func shardsAndANightlyExcludeEachOther() throws {
        let database = try Self.migrated()
        let common = ["--as-of", "2014-04-07", "--log-format", "json"]
        try Self.holdLease(database, scope: "shared", shareKey: "score 2014-04-07 in 2 shards", purpose: "score 2014-04-07 shard 0/2", runID: 7, host: "batch-8.example", pid: 100)
        let nightly = try Harness.run(["nightly", "--rerun"] + common, database: database)
        #expect(nightly.status == 4, "\(nightly.stderr.suffix(1000))")
        #expect(nightly.stdout.contains("shard 0/2") && nightly.stdout.contains("batch-8.example"), "\(nightly.stdout)")
        // A sibling shard passes the lease (and then finds nothing to score: not 4).
        let sibling = try Harness.run(["score", "--shard", "1/2"] + common, database: database)
        #expect(sibling.status != 4 && !sibling.stdout.contains("lease"), "\(sibling.stderr.suffix(1000))")
        // A shard of another set, or a whole-day score, does not.
        #expect(try Harness.run(["score", "--shard", "1/3"] + common, database: database).status == 4)
        #expect(try Harness.run(["score"] + common, database: database).status == 4)

        try Connection(database).query("DELETE FROM danser.job_lease")
        try Self.holdLease(database, purpose: "nightly 2014-04-07 rerun", runID: 8, host: "batch-9.example", pid: 200)
        let shard = try Harness.run(["score", "--shard", "0/2"] + common, database: database)
        #expect(shard.status == 4, "\(shard.stderr.suffix(1000))")
        #expect(shard.stdout.contains("batch-9.example"))
    }

    /// Clicks that never end: `import -` reads standard input from a pipe nobody writes to (and
    /// nobody closes while the test runs), so the import blocks in it. (A FIFO path is refused.)
    static func stalledImport(_ database: ConnectionConfiguration, pipe: Pipe) throws -> Harness.Background {
        try Harness.start(["import", "-", "--format", "generic-csv", "--log-format", "json"], database: database, standardInput: pipe.fileHandleForReading)
    }

    static func waitFor(_ database: ConnectionConfiguration, _ sql: String) throws {
        try NightlyEndToEndTests.waitFor(database, sql)
    }

    /// Finding 3: SIGTERM during an import exits 5 (not 143) and the ledger says interrupted,
    /// with the stage.
    @Test func aSignalledImportExits5AndIsRecordedInterrupted() throws {
        let database = try Self.migrated()
        let stalled = Pipe()
        defer { try? stalled.fileHandleForWriting.close() }
        let importing = try Self.stalledImport(database, pipe: stalled)
        try Self.waitFor(database, "SELECT count(*) FROM danser.runs WHERE command = 'import' AND status = 'running'")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(importing.stop(with: SIGTERM, timeout: 30) == 5)
        let row = try Connection(database).query("SELECT status, stage, error FROM danser.runs WHERE command = 'import'").rows()
        #expect(row.first?[0].stringValue == "interrupted")
        #expect(row.first?[1].stringValue == "import -", "\(row)")
        #expect(try Self.scalar("SELECT count(*) FROM danser.click_log", database) == "0")
    }

    /// Finding 3: a killed run is marked abandoned, with its last stage, by the next command
    /// (here `status`), instead of staying running.
    @Test func aKilledRunIsMarkedAbandonedWithItsStage() throws {
        let database = try Self.migrated()
        let stalled = Pipe()
        defer { try? stalled.fileHandleForWriting.close() }
        let importing = try Self.stalledImport(database, pipe: stalled)
        try Self.waitFor(database, "SELECT count(*) FROM danser.runs WHERE command = 'import' AND status = 'running'")
        Thread.sleep(forTimeInterval: 0.5)
        importing.kill()
        let status = try Harness.run(["status"], database: database)
        // 7: no day has been published yet, so the health check fails; the runs are still listed.
        #expect(status.status == 7, "\(status.stderr)")
        #expect(status.stdout.contains("abandoned"), "\(status.stdout)")
        let row = try Connection(database).query("SELECT status, stage, error FROM danser.runs WHERE command = 'import'").rows()
        #expect(row.first?[0].stringValue == "abandoned")
        #expect(row.first?[2].stringValue?.contains("last stage import -") == true, "\(row)")
    }

    /// Finding 3: a run that cannot reach the server still writes the metrics textfile (status
    /// failed) and keeps the last success from the previous file.
    @Test func anUnreachableServerStillWritesTheMetricsFile() throws {
        let metrics = Harness.scratchFolder + "/metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: true)
        try """
            # TYPE danser_batch_last_success_timestamp_seconds gauge
            danser_batch_last_success_timestamp_seconds 1700000000.0
            danser_batch_last_run_status{status="succeeded"} 1.0

            """.write(toFile: metrics + "/danser_batch.prom", atomically: true, encoding: .utf8)
        let nowhere = ConnectionConfiguration("host=\(Harness.scratchFolder)/no-server port=5 user=nobody dbname=nothing")
        let run = try Harness.run(
            ["nightly", "--as-of", "2014-04-07", "--metrics-dir", metrics, "--log-format", "json"], database: nowhere,
            environment: ["DANSER_RETRY_ATTEMPTS": "1"])
        #expect(run.status == 69, "\(run.stderr)")
        let text = (try? String(contentsOfFile: metrics + "/danser_batch.prom", encoding: .utf8)) ?? ""
        #expect(text.contains("danser_batch_last_run_status{status=\"failed\"} 1"), "\(text)")
        #expect(text.contains("danser_batch_last_success_timestamp_seconds 1700000000"), "\(text)")
    }
}

/// A PostgreSQL cluster of the test's own, which it may stop (`pg_ctl stop -m immediate`, as a
/// crash would) and start again without disturbing the server the other tests share.
struct PrivateServer {
    let server: EmbeddedServer

    init() {
        // Not unsafeFast: with synchronous_commit off an immediate stop loses acknowledged commits.
        var server = EmbeddedServer(stateDirectory: "/tmp/danser-e2e-private-\(UUID().uuidString.prefix(8))")
        server.databaseName = "postgres"
        self.server = server
    }

    func start() throws -> ConnectionConfiguration { try server.start() }

    /// Starts the cluster and returns a new database on it with both YOOCHOOSE files imported
    /// (callers check `Harness.samplesFolder` first).
    func startWithImportedSample() throws -> ConnectionConfiguration {
        let admin = try start()
        try Connection(admin).query("CREATE DATABASE night")
        let database = admin.withDatabase("night")
        let samples = Harness.samplesFolder ?? "."
        let imported = try Harness.run(["import", samples + "/yoochoose-clicks-100k-train.tsv", samples + "/yoochoose-clicks-100k-test.tsv"], database: database)
        #expect(imported.status == 0, "\(imported.stderr)")
        return database
    }

    /// Immediate shutdown: every backend is killed, nothing is flushed.
    func crash() throws {
        let pgCtl = try EmbeddedServer.serverBinDirectory() + "/pg_ctl"
        let arguments = ["stop", "-w", "-s", "-m", "immediate", "-D", server.dataDirectory]
        let process = Process()
        if geteuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", pgCtl] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: pgCtl)
            process.arguments = arguments
        }
        try process.run()
        process.waitUntilExit()
    }

    func remove() {
        try? crash()
        try? FileManager.default.removeItem(atPath: server.stateDirectory)
    }
}

@Suite struct TransientFailureEndToEndTests {
    /// Finding 3: `pg_ctl stop -m immediate` while the night is scoring, the server back a few
    /// seconds later: the run retries from its last durable point (the model it already
    /// published is reused) and succeeds, one ledger row with two attempts and the cause.
    @Test(.enabled(if: Harness.samplesFolder != nil, "needs ../shared/data/samples"))
    func aServerRestartDuringScoringIsSurvived() throws {
        let cluster = PrivateServer()
        defer { cluster.remove() }
        let database = try cluster.startWithImportedSample()
        let night = try Harness.start(
            ["nightly", "--as-of", "2014-04-07", "--mode", "retrain", "--epochs", "1", "--tolerance", "100", "--log-format", "json",
             "--retry-delay", "1", "--retry-max-delay", "2", "--retry-attempts", "10"],
            database: database, environment: ["DANSER_TEST_HOLD_SCORING_SECONDS": "4", "DANSER_HEARTBEAT_SECONDS": "1"],
            captureStandardError: true)
        try NightlyEndToEndTests.waitFor(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'recommendations_staging_20140407'")
        try cluster.crash()
        Thread.sleep(forTimeInterval: 3)
        _ = try cluster.start()
        let status = night.wait(timeout: 300)
        #expect(status == 0, "\(night.standardError.suffix(3000))")
        #expect(night.standardError.contains("retried from its last durable point"))
        let row = try Connection(database).query("SELECT status, attempts, cause, stage FROM danser.runs WHERE command = 'nightly'").rows()
        #expect(row.count == 1)
        #expect(row.first?[0].stringValue == "succeeded")
        #expect((row.first?[1].int64Value ?? 0) >= 2, "\(row)")
        #expect(row.first?[2].stringValue?.isEmpty == false)
        #expect(try Connection(database).query("SELECT count(*) FROM bi.recommendations_current").scalar()?.int64Value ?? 0 > 1_000)
        #expect(try Connection(database).query("SELECT count(*) FROM danser.models").scalar()?.int64Value == 1)
    }
}
