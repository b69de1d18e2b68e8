import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch status`: last runs, the champion, and how fresh the published result is.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Last runs, champion model and freshness of the published recommendations.")
    @Option(help: "How many recent runs (1 to 500).") var runs = 10
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...500).contains(runs) else { throw ValidationError("--runs must be between 1 and 500.") }
    }

    func run() throws {
        output.bootstrap()
        try FailureReport.run {
            let logger = Logger(label: "danser.status")
            let connection = try database.migratedConnection(logger: logger)
            // Runs whose process is gone are marked abandoned first (a reader without write
            // rights just sees them as running).
            let abandoned = (try? RunLedger().closeAbandoned(
                host: ProcessInfo.processInfo.hostName, pid: getpid(), isAlive: RunEnvelope.isProcessAlive,
                expirySeconds: RunEnvelope.Timing.fromEnvironment().expirySeconds, on: connection)) ?? []
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
            let current = try connection.query("SELECT as_of::text, model_version, sessions, published_at, now() - published_at FROM danser.published_recommendations ORDER BY as_of DESC LIMIT 1").rows()
            if let row = current.first {
                let age = (try connection.query("SELECT extract(epoch FROM now() - $1::timestamptz)::float8", [row[3]]).scalar()?.doubleValue ?? 0) / 3600
                print("current recommendations: as-of \(row[0].stringValue ?? "?"), model \(row[1].int64Value ?? 0), \(row[2].int64Value ?? 0) sessions, published \(String(format: "%.1f", age)) h ago")
            } else {
                print("current recommendations: none published yet")
            }
            let latest = try connection.query("SELECT max(event_time)::text, count(*) FROM danser.click_log").rows()[0]
            print("click log: \(latest[1].int64Value ?? 0) clicks, latest \(latest[0].stringValue ?? "-")")
            print("\nrun     command   as_of       status       seconds  model  error")
            for run in try RunLedger().recent(limit: runs, on: connection) {
                let seconds = run.finishedMicros.map { String(format: "%7.1f", Double($0 - run.startedMicros) / 1e6) } ?? "      -"
                let fields = [
                    pad(String(run.runID), 7), pad(run.command, 9), pad(run.asOfDay.map { LogicalDate(day: Int64($0)).description } ?? "-", 11),
                    pad(run.status.rawValue, 12), seconds, " " + pad(run.modelVersion.map(String.init) ?? "-", 6), String((run.error ?? "").prefix(80)),
                ]
                print(fields.joined(separator: " "))
            }
        }
    }
}

private func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
