import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch status`: a health check. The champion, the newest published day, the click log
/// and the recent runs in full; exit 7 when the newest published day is missing, empty or too old.
/// Never starts a server and never migrates.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Health check: champion, newest published day, recent runs (stage, host, pid, error, log, report).",
        discussion: """
            Never starts the embedded server and never applies migrations. Exit codes: 0 healthy; 7 the \
            newest published day is missing, has no sessions, or its as-of date began more than --max-age \
            hours ago; 69 the database (or the embedded server) is not running or not reachable; 77 \
            permission; 78 configuration (a bad setting, or migrations missing: run danser-batch migrate).
            """
    )

    @Option(help: "How many recent runs (1 to 500).") var runs = 10

    @Option(help: "Hours after the start (UTC midnight) of the newest published day's as-of date after which it is stale (setting status.max_age_hours).")
    var maxAge: Double = Settings.current.value(.maxAge, or: 36)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...500).contains(runs) else { throw ValidationError("--runs must be between 1 and 500.") }
        guard maxAge > 0, maxAge.isFinite else { throw ValidationError("--max-age must be a number of hours above 0 (got \(maxAge)).") }
    }

    func run() throws {
        output.bootstrap()
        var healthy = true
        try FailureReport.run {
            let logger = Logger(label: "danser.status")
            guard let configuration = try database.existingServerConfiguration(logger: logger) else {
                throw FeatureStoreError(.embeddedServer,
                    "the embedded server in \(database.embeddedServer.stateDirectory) is not running (status never starts it)",
                    hint: "start it with danser-batch db start, or configure the database (DATABASE_URL, database.url)")
            }
            let connection = try database.unmigratedConnection(configuration, logger: logger)
            // Runs whose process is gone are marked abandoned first (a reader without write
            // rights still sees them flagged below).
            let timing = RunEnvelope.Timing.fromEnvironment(Settings.current.mergedEnvironment)
            let abandoned = (try? RunLedger().closeAbandoned(
                host: ProcessInfo.processInfo.hostName, pid: getpid(), isAlive: RunEnvelope.isProcessAlive,
                expirySeconds: timing.expirySeconds, on: connection)) ?? []
            for run in abandoned {
                logger.notice("marked a run whose process is gone as abandoned", metadata: ["run": "\(run.runID)", "stage": "\(run.stage ?? "-")"])
            }
            for holder in (try? JobLease.holders(on: connection)) ?? [] {
                print("job lease: \(holder)\(holder.expired ? " (expired)" : "")")
            }
            if let champion = try ModelRegistry().champion(on: connection) {
                print("champion: model \(champion.version) (\(champion.mode), as-of \(LogicalDate(day: Int64(champion.asOfDay))), \(champion.itemCount) items)")
            } else {
                print("champion: none yet")
            }
            let store = RunHealthStore()
            let day = try store.newestPublishedDay(on: connection)
            if let day {
                print("current recommendations: as-of \(LogicalDate(day: Int64(day.asOfDay))), model \(day.modelVersion), \(day.sessions) sessions, "
                    + "\(day.rows.map(String.init) ?? "?") rows, published \(Self.hours(day.secondsSincePublished)) ago")
            } else {
                print("current recommendations: none published yet")
            }
            let clicks = try store.clickLog(on: connection)
            print("click log: \(clicks.clicks) clicks, latest \(clicks.latestMicros.map { Timestamp.format(micros: $0) } ?? "-")")
            let verdict = Self.verdict(day, maxAgeHours: maxAge)
            healthy = verdict.healthy
            print("health: \(verdict.text)")
            print("")
            let host = ProcessInfo.processInfo.hostName
            for run in try store.recentRuns(limit: runs, on: connection) {
                for line in Self.describe(run, host: host, expirySeconds: timing.expirySeconds) { print(line) }
            }
            if !healthy { logger.warning("unhealthy", metadata: ["reason": "\(verdict.text)"]) }
        }
        if !healthy { throw ExitCode(ExitStatus.unhealthy.rawValue) }
    }

    /// Healthy when the newest published day exists, has sessions and its as-of date began at
    /// most `maxAgeHours` ago.
    static func verdict(_ day: PublishedDayHealth?, maxAgeHours: Double) -> (healthy: Bool, text: String) {
        guard let day else { return (false, "UNHEALTHY: no day of recommendations has been published") }
        let asOf = LogicalDate(day: Int64(day.asOfDay))
        if day.sessions == 0 { return (false, "UNHEALTHY: the newest published day \(asOf) has no sessions") }
        let age = day.secondsSinceAsOf / 3600
        if age > maxAgeHours {
            return (false, "UNHEALTHY: the newest published day \(asOf) began \(String(format: "%.1f", age)) h ago, more than --max-age \(maxAgeHours.formatted()) h")
        }
        return (true, "ok (newest day \(asOf) began \(String(format: "%.1f", age)) h ago; --max-age \(maxAgeHours.formatted()) h)")
    }

    /// A run in a few lines: the summary, then its full error, cause, log and report, indented.
    static func describe(_ run: RunHealth, host: String, expirySeconds: Double) -> [String] {
        var status = run.status.rawValue
        if run.status == .running {
            let gone = run.host == host ? run.pid.map { !RunEnvelope.isProcessAlive($0) } ?? true : run.secondsSinceHeartbeat > expirySeconds
            if gone { status += " (process gone; the next run marks it abandoned)" }
        }
        let seconds = run.finishedMicros.map { String(format: "%.1f s", Double($0 - run.startedMicros) / 1e6) } ?? "-"
        var summary = "run \(run.runID)  \(run.command)  as-of \(run.asOfDay.map { LogicalDate(day: Int64($0)).description } ?? "-")  \(status)"
        summary += "  \(seconds)  stage \(run.stage ?? "-")  model \(run.modelVersion.map(String.init) ?? "-")"
        summary += "  host \(run.host ?? "-") pid \(run.pid.map(String.init) ?? "-")"
        if run.attempts > 1 { summary += "  attempts \(run.attempts)" }
        var lines = [summary, "    started \(Timestamp.format(micros: run.startedMicros))"]
        if let error = run.error { lines.append("    error: \(error)") }
        if let cause = run.cause, cause != run.error { lines.append("    cause: \(cause)") }
        if let log = run.logPath { lines.append("    log: \(log)") }
        if let report = run.reportPath { lines.append("    report: \(report)") }
        return lines
    }

    static func hours(_ seconds: Double) -> String { String(format: "%.1f h", seconds / 3600) }
}
