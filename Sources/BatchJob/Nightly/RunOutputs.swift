import FeatureStore
import Foundation
import Logging

/// After a run: the HTML report (its path kept in the ledger row) and the Prometheus textfile.
/// Neither may fail the run: a folder that cannot be written is logged and skipped.
struct RunOutputs {
    let settings: NightlySettings
    let summary: NightlySummary
    /// Nil when the server could not be reached: the metrics file is still written.
    let connection: Connection?
    let logger: Logger

    /// Writes what is configured; returns the report's path if one was written. A run that was
    /// skipped (no ledger run of its own) writes the metrics only, so an alert sees the skip.
    @discardableResult
    func write() -> String? {
        var reportPath: String?
        let ledger = RunLedger()
        if let runID = summary.runID, let folder = settings.reportDirectory, let connection {
            let history = (try? ledger.recent(command: "nightly", limit: 60, on: connection)) ?? []
            do {
                let path = try report(runID: runID, history: history).write(to: folder)
                try ledger.recordReportPath(runID: runID, path: path, on: connection)
                logger.info("report written", metadata: ["path": "\(path)"])
                reportPath = path
            } catch {
                logger.warning("could not write the run report; the run itself is unaffected", metadata: ["folder": "\(folder)", "error": "\(error)"])
            }
        }
        if let folder = settings.metricsDirectory {
            var metrics = RunMetrics(asOf: settings.asOf.description, status: summary.status.rawValue)
            let previous = RunMetrics.previous(inFolder: folder)
            // The ledger knows the last success; without it, the previous textfile still does.
            metrics.lastSuccessUnixSeconds = connection.flatMap { try? RunHealthStore().lastSuccessMicros(command: "nightly", on: $0) }
                .map { Double($0) / 1e6 } ?? previous.lastSuccessUnixSeconds
            metrics.stageSeconds = summary.timings
            metrics.clicksIn = summary.counts["clicks"] ?? 0
            metrics.recommendationRowsOut = summary.counts["recommendation_rows"] ?? 0
            metrics.sessionsScored = summary.counts["sessions_scored"] ?? 0
            metrics.quarantinedRows = summary.counts["quarantined"] ?? 0
            // The champion's figures: this run's evaluation of the model now serving; else (the
            // run failed before it) the champion's own, from the registry; else the previous file.
            let served = summary.comparison.first { $0.name == (summary.promoted == true ? "candidate" : "champion") } ?? summary.comparison.first
            if let served, let version = summary.scoringVersion {
                metrics.precisionAt20 = served.precisionAt20
                metrics.mrrAt20 = served.mrrAt20
                metrics.modelVersion = version
            } else if let connection, let champion = try? ModelRegistry().champion(on: connection) {
                let own = JSON.decodeObject(champion.metricsJSON)["candidate"] as? [String: Any]
                metrics.precisionAt20 = own?["p@20"] as? Double
                metrics.mrrAt20 = own?["mrr@20"] as? Double
                metrics.modelVersion = champion.version
            } else {
                metrics.precisionAt20 = previous.precisionAt20
                metrics.mrrAt20 = previous.mrrAt20
                metrics.modelVersion = previous.modelVersion
            }
            do {
                let path = try metrics.write(toFolder: folder)
                logger.info("metrics written", metadata: ["path": "\(path)"])
            } catch {
                logger.warning("could not write the metrics file", metadata: ["folder": "\(folder)", "error": "\(error)"])
            }
        }
        return reportPath
    }

    private func report(runID: Int64, history: [RunRecord]) -> RunReport {
        var report = RunReport(
            runID: runID, asOf: settings.asOf.description, status: summary.status.rawValue, mode: summary.mode,
            modelVersion: summary.modelVersion, champion: summary.scoringVersion.map { "model \($0)" } ?? "none")
        report.syntheticData = summary.syntheticData
        report.counts = summary.counts.sorted { $0.key < $1.key }.map { ($0.key.replacingOccurrences(of: "_", with: " "), $0.value.formatted()) }
        report.stageSeconds = summary.timings
        report.epochs = summary.epochs
        report.comparison = summary.comparison
        report.history = history.reversed().filter { $0.status == .succeeded || $0.runID == runID }.suffix(30).map { run in
            let metrics = JSON.decodeObject(run.metricsJSON)
            let candidate = metrics["candidate"] as? [String: Any]
            let timings = JSON.decodeObject(run.timingsJSON).compactMapValues { $0 as? Double }
            return RunReport.PastRun(
                asOf: run.asOfDay.map { LogicalDate(day: Int64($0)).description } ?? "?",
                precisionAt20: candidate?["p@20"] as? Double, mrrAt20: candidate?["mrr@20"] as? Double, stageSeconds: timings)
        }
        report.scores = summary.scores
        report.catalogueCoverage = summary.coverage
        report.popularityDeciles = summary.popularityDeciles
        report.notes = summary.notes + (summary.error.map { ["Error: \($0)"] } ?? [])
        report.served = summary.served
        return report
    }

}

/// The few lines a person reads after a night on a terminal (standard output).
enum NightlyPrinter {
    static func print(_ summary: NightlySummary, settings: NightlySettings, status: ExitStatus) {
        // With JSON logs (cron), the summary is one JSON line too, so the log file has one format.
        if LogOutput.format.withLock({ $0 }) == .json {
            Swift.print(json(summary, settings: settings, status: status))
            return
        }
        if let done = summary.alreadyDone {
            Swift.print("as-of \(settings.asOf): already completed by run \(done); nothing to do (--rerun recomputes)")
            return
        }
        if status == .skipped {
            Swift.print("as-of \(settings.asOf): skipped, " + (summary.skipReason ?? "another run holds the job lease"))
            return
        }
        Swift.print("as-of \(settings.asOf): run \(summary.runID.map(String.init) ?? "-") \(summary.status), mode \(summary.mode)")
        if let version = summary.modelVersion {
            let verdict = summary.promoted.map { $0 ? "promoted to champion" : "rejected, champion kept" } ?? (summary.reusedModel ? "reused" : "")
            Swift.print("model \(version) \(verdict); recommendations from " + (summary.servedBy.map { "\($0), the contest's winner" } ?? "model \(summary.scoringVersion.map(String.init) ?? "-")"))
        }
        if !summary.comparison.isEmpty {
            func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            Swift.print(pad("", 13) + ["P@20", "MRR@20", "P@10", "MRR@10"].map { String(repeating: " ", count: 8 - $0.count) + $0 }.joined())
            for row in summary.comparison {
                Swift.print(pad(row.name, 13) + [row.precisionAt20, row.mrrAt20, row.precisionAt10, row.mrrAt10].map { String(format: "%8.2f", $0) }.joined())
            }
        }
        for note in summary.notes where note.hasPrefix("Contender ") || note.hasPrefix("Blend not kept") { Swift.print(note) }
        if let served = summary.served { Swift.print("served: " + served) }
        if let warning = summary.knnWarning { Swift.print("WARNING: " + warning) }
        Swift.print("sessions scored: \(summary.counts["sessions_scored"] ?? 0), rows: \(summary.counts["recommendation_rows"] ?? 0), quarantined: \(summary.counts["quarantined"] ?? 0)")
        if let path = summary.reportPath { Swift.print("report: \(path)") }
        Swift.print("stages: " + summary.timings.map { "\($0.stage) \(String(format: "%.1f", $0.seconds))s" }.joined(separator: ", "))
    }

    /// The summary as one JSON object (what the text lines say, as fields).
    static func json(_ summary: NightlySummary, settings: NightlySettings, status: ExitStatus) -> String {
        // The message is the line a person would read first.
        var message = "as-of \(settings.asOf): run \(summary.runID.map(String.init) ?? "-") \(summary.status), mode \(summary.mode)"
        var runStatus = summary.status.rawValue
        if let done = summary.alreadyDone {
            message = "as-of \(settings.asOf): already completed by run \(done); nothing to do (--rerun recomputes)"
            runStatus = "already_completed"
        } else if status == .skipped {
            message = "as-of \(settings.asOf): skipped, " + (summary.skipReason ?? "another run holds the job lease")
            runStatus = RunStatus.skipped.rawValue
        }
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.withFractionalSeconds.string(from: Date()),
            "level": "notice", "logger": "danser.summary", "message": message,
            "as_of": settings.asOf.description, "status": runStatus, "exit_code": Int(status.rawValue),
        ]
        if let runID = summary.runID ?? LogOutput.runID { object["run_id"] = runID }
        if let done = summary.alreadyDone { object["already_completed_by_run"] = done }
        if status == .skipped { object["skip_reason"] = summary.skipReason ?? "another run holds the job lease" }
        object["mode"] = summary.mode
        if let version = summary.modelVersion { object["model_version"] = version }
        if let promoted = summary.promoted { object["promoted"] = promoted }
        if let scoring = summary.scoringVersion { object["scoring_model_version"] = scoring }
        object["sessions_scored"] = summary.counts["sessions_scored"] ?? 0
        object["recommendation_rows"] = summary.counts["recommendation_rows"] ?? 0
        object["quarantined"] = summary.counts["quarantined"] ?? 0
        if let path = summary.reportPath { object["report"] = path }
        // The same notes and served line the text summary prints (a skipped contender, say).
        if !summary.notes.isEmpty { object["notes"] = summary.notes }
        if let served = summary.served { object["served"] = served }
        // JSON has no NaN or infinity: such a figure is written as null.
        func number(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
        object["stage_seconds"] = Dictionary(summary.timings.map { ($0.stage, number($0.seconds)) }, uniquingKeysWith: { $1 })
        object["comparison"] = summary.comparison.map {
            ["name": $0.name, "p@20": number($0.precisionAt20), "mrr@20": number($0.mrrAt20), "p@10": number($0.precisionAt10),
             "mrr@10": number($0.mrrAt10)] as [String: Any]
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
