@testable import FeatureStore
import Foundation
import Testing

/// A night stopped inside the publishing transaction (the rows staged and audited, the day
/// swapped in, not committed): by `kill -9`, and by `pg_ctl stop -m immediate`. The previous day
/// stays current and whole, the ledger says what happened, and a rerun of the date publishes what
/// an uninterrupted twin published (content hash, model lineage). Release binary, real
/// PostgreSQL, the YOOCHOOSE 100k sample (skipped where ../shared is absent).
@Suite(.serialized) struct MidPublishEndToEndTests {
    typealias Nightly = NightlyEndToEndTests
    static let previousDay = "2014-04-06"
    static let day = "2014-04-07"

    /// What the uninterrupted twin published for `day` after `previousDay`: computed once.
    struct Twin {
        var contentHash: String
        var lineage: [String]
    }

    nonisolated(unsafe) private static var cachedTwin: Twin?
    private static let twinLock = NSLock()

    static func twin() throws -> Twin? {
        twinLock.lock()
        defer { twinLock.unlock() }
        if let cachedTwin { return cachedTwin }
        guard let database = try Nightly.importedDatabase() else { return nil }
        try publishPreviousDay(database)
        let night = try Nightly.nightly(day, database: database)
        #expect(night.status == 0, "\(night.stderr.suffix(2000))")
        let twin = Twin(contentHash: try TrustEndToEndTests.contentHash(database, day), lineage: try TrustEndToEndTests.lineage(database))
        cachedTwin = twin
        return twin
    }

    static func publishPreviousDay(_ database: ConnectionConfiguration) throws {
        let previous = try Nightly.nightly(previousDay, database: database)
        #expect(previous.status == 0, "\(previous.stderr.suffix(2000))")
        #expect(try Nightly.published(database).count > 1_000)
    }

    /// Waits until the run sits in its publishing transaction (a backend idle in a transaction
    /// for a second: the hold), and checks that it is still running.
    static func waitForOpenPublishingTransaction(_ database: ConnectionConfiguration, _ night: Harness.Background) throws {
        try Nightly.waitFor(database, """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND state = 'idle in transaction' AND state_change < now() - interval '1 second'
            """, timeout: 600)
        #expect(night.process.isRunning, "the run ended before it was stopped: the test proves nothing")
    }

    /// A night of `day` that holds after the swap, before the commit, until the returned
    /// release file exists; quick retries, a quick heartbeat.
    static func startHeldBeforeCommit(_ database: ConnectionConfiguration, retryAttempts: Int) throws -> (Harness.Background, String) {
        let release = Harness.scratchFolder + "/release-\(UUID().uuidString)"
        let night = try Harness.start(
            ["nightly", "--as-of", day, "--retry-attempts", "\(retryAttempts)", "--retry-delay", "1", "--retry-max-delay", "2"] + Nightly.common,
            database: database,
            environment: ["DANSER_TEST_HOLD_STAGE": "commit:300", "DANSER_TEST_HOLD_RELEASE": release, "DANSER_HEARTBEAT_SECONDS": "1"],
            captureStandardError: true)
        return (night, release)
    }

    static func ledger(_ database: ConnectionConfiguration) throws -> [[String]] {
        try Connection(database).query(
            "SELECT status, coalesce(stage, ''), coalesce(error, ''), attempts::text, coalesce(cause, '') FROM danser.runs WHERE command = 'nightly' AND as_of = $1::date ORDER BY run_id",
            [.text(day)]
        ).rows().map { $0.map { $0.stringValue ?? "" } }
    }

    /// kill -9 after the day was swapped in, before the commit: the server rolls it back; the next
    /// command marks the run abandoned at publish_recommendations; the rerun equals the twin.
    @Test func aKillInsideThePublishingTransactionLeavesThePreviousDay() throws {
        guard let twin = try Self.twin(), let database = try Nightly.importedDatabase() else { return }
        try Self.publishPreviousDay(database)
        let previous = try Nightly.published(database)

        let night = try Harness.start(
            ["nightly", "--as-of", Self.day] + Nightly.common, database: database, environment: ["DANSER_TEST_HOLD_STAGE": "commit:300"])
        try Self.waitForOpenPublishingTransaction(database, night)
        night.kill()
        #expect(try Nightly.published(database) == previous)
        #expect(try Connection(database).query("SELECT max(as_of)::text FROM bi.days").scalar()?.stringValue == Self.previousDay)

        let rerun = try Nightly.nightly(Self.day, database: database)
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(2000))")
        let ledger = try Self.ledger(database)
        #expect(ledger.count == 2, "\(ledger)")
        #expect(ledger.first?[0] == "abandoned" && ledger.first?[1] == "publish_recommendations", "\(ledger)")
        #expect(ledger.first?[2].contains("last stage publish_recommendations") == true, "\(ledger)")
        #expect(ledger.last?[0] == "succeeded", "\(ledger)")
        #expect(try TrustEndToEndTests.contentHash(database, Self.day) == twin.contentHash)
        #expect(try TrustEndToEndTests.lineage(database) == twin.lineage)
    }

    /// kill -9 after both connections filled and keyed their parts of the day (each part
    /// committed on its own), before the swap: the previous day stays current, the parts wait in
    /// staging unseen, and the rerun replaces them and publishes the twin's day, leaving no
    /// staging table behind.
    @Test func aKillBetweenThePartsAndTheSwapLeavesThePreviousDay() throws {
        guard let twin = try Self.twin(), let database = try Nightly.importedDatabase() else { return }
        try Self.publishPreviousDay(database)
        let previous = try Nightly.published(database)

        let night = try Harness.start(
            ["nightly", "--as-of", Self.day] + Nightly.common, database: database,
            environment: ["DANSER_TEST_HOLD_STAGE": "publish_recommendations:300"])
        try Nightly.waitFor(database, """
            SELECT count(*) FROM danser.runs
            WHERE command = 'nightly' AND as_of = '\(Self.day)' AND status = 'running' AND stage = 'publish_recommendations'
            """, timeout: 600)
        #expect(night.process.isRunning, "the run ended before it was stopped: the test proves nothing")
        night.kill()
        let connection = try Connection(database)
        let staged = try connection.query("""
            SELECT c.relname, (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'danser.recommendations_staging_20140407'::regclass ORDER BY 1
            """).rows().map { [$0[0].stringValue ?? "", String($0[1].int64Value ?? -1)] }
        #expect(staged == [["recommendations_staging_20140407_p0", "1"], ["recommendations_staging_20140407_p1", "1"]], "\(staged)")
        #expect(try connection.query("SELECT count(*) > 1000 FROM danser.recommendations_staging_20140407").scalar() == .bool(true))
        #expect(try Nightly.published(database) == previous)
        #expect(try connection.query("SELECT max(as_of)::text FROM bi.days").scalar()?.stringValue == Self.previousDay)

        let rerun = try Nightly.nightly(Self.day, database: database)
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(2000))")
        #expect(try TrustEndToEndTests.contentHash(database, Self.day) == twin.contentHash)
        #expect(try TrustEndToEndTests.lineage(database) == twin.lineage)
        #expect(try connection.query("SELECT count(*) FROM pg_class WHERE relname LIKE 'recommendations_staging%' AND relkind IN ('r', 'p')").scalar() == .int64(0))
    }

    /// `pg_ctl stop -m immediate` after the day was swapped in, before the commit. First the
    /// server stays down longer than the retry policy: the run gives up (not exit 70), nothing
    /// changed, and the next run marks it abandoned at publish_recommendations. Then the same
    /// crash with the server back within the policy: the run is retried from its last durable
    /// point and publishes the twin's day, one ledger row with two attempts and the cause.
    @Test(.enabled(if: Harness.samplesFolder != nil, "needs ../shared/data/samples"))
    func aServerCrashInsideThePublishingTransactionLeavesThePreviousDay() throws {
        guard let twin = try Self.twin() else { return }
        let cluster = PrivateServer()
        defer { cluster.remove() }
        let database = try cluster.startWithImportedSample()
        try Self.publishPreviousDay(database)
        let previous = try Nightly.published(database)

        // Down for good (as far as this run can tell). The hold ends once the release file exists.
        let (givingUp, firstRelease) = try Self.startHeldBeforeCommit(database, retryAttempts: 2)
        try Self.waitForOpenPublishingTransaction(database, givingUp)
        try cluster.crash()
        FileManager.default.createFile(atPath: firstRelease, contents: nil)
        let gaveUp = givingUp.wait(timeout: 120)
        #expect(gaveUp == 69 || gaveUp == 75, "exit \(String(describing: gaveUp)): \(givingUp.standardError.suffix(2000))")
        _ = try cluster.start()
        #expect(try Nightly.published(database) == previous)

        // Back within the policy: survived.
        let (surviving, release) = try Self.startHeldBeforeCommit(database, retryAttempts: 10)
        try Self.waitForOpenPublishingTransaction(database, surviving)
        try cluster.crash()
        FileManager.default.createFile(atPath: release, contents: nil)  // the retried attempt does not hold again
        Thread.sleep(forTimeInterval: 3)
        _ = try cluster.start()
        let survived = surviving.wait(timeout: 300)
        #expect(survived == 0, "\(surviving.standardError.suffix(3000))")
        #expect(surviving.standardError.contains("retried from its last durable point"))

        let ledger = try Self.ledger(database)
        #expect(ledger.count == 2, "\(ledger)")
        #expect(ledger.first?[0] == "abandoned" && ledger.first?[1] == "publish_recommendations", "\(ledger)")
        #expect(ledger.last?[0] == "succeeded" && (Int(ledger.last?[3] ?? "") ?? 0) >= 2 && ledger.last?[4].isEmpty == false, "\(ledger)")
        #expect(try TrustEndToEndTests.contentHash(database, Self.day) == twin.contentHash)
        #expect(try TrustEndToEndTests.lineage(database) == twin.lineage)
    }
}
