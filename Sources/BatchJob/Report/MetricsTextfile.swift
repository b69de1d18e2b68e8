import FeatureStore
import Foundation
import Prometheus

/// The numbers an operator alerts on after each run, written in Prometheus text format for
/// node_exporter's textfile collector (one file, replaced atomically so it is never read half-written).
struct RunMetrics: Sendable {
    var asOf: String
    var status: String
    /// Unix seconds of the last run that succeeded (this one or an earlier one), if any.
    var lastSuccessUnixSeconds: Double?
    var stageSeconds: [(stage: String, seconds: Double)] = []
    var clicksIn: Int = 0
    var recommendationRowsOut: Int = 0
    var sessionsScored: Int = 0
    var quarantinedRows: Int = 0
    /// Champion's evaluation figures, in percent.
    var precisionAt20: Double?
    var mrrAt20: Double?
    var modelVersion: Int64?

    /// The statuses a finished run can end with, one series each.
    static let statuses = [RunStatus.succeeded, .failed, .skipped, .interrupted].map(\.rawValue)

    func text() -> String {
        let registry = PrometheusCollectorRegistry()
        if let lastSuccessUnixSeconds {
            gauge("last_success", unit: "timestamp_seconds", help: "Unix time of the last successful nightly run.", in: registry).set(to: lastSuccessUnixSeconds)
        }
        for candidate in Self.statuses {
            gauge("last_run_status", unit: "", help: "1 for the status of the last run, 0 for the others.", labels: [("status", candidate)], in: registry).set(to: candidate == status ? 1 : 0)
        }
        gauge("last_run_info", unit: "", help: "Always 1; labels: the last run's logical date (as_of) and status.",
            labels: [("as_of", asOf), ("status", status)], in: registry).set(to: 1)
        for (stage, seconds) in stageSeconds {
            gauge("stage_duration", unit: "seconds", help: "Wall-clock seconds of each stage of the last run.", labels: [("stage", stage)], in: registry).set(to: seconds)
        }
        gauge("clicks_ingested", unit: "", help: "Clicks read by the last run.", in: registry).set(to: Double(clicksIn))
        gauge("recommendation_rows", unit: "", help: "Recommendation rows published by the last run.", in: registry).set(to: Double(recommendationRowsOut))
        gauge("sessions_scored", unit: "", help: "Active sessions scored by the last run.", in: registry).set(to: Double(sessionsScored))
        gauge("quarantined_rows", unit: "", help: "Input rows set aside in quarantine by the last run.", in: registry).set(to: Double(quarantinedRows))
        if let precisionAt20 {
            gauge("precision_at_20", unit: "", help: "Champion P@20 (hit rate, percent) on the evaluation window.", in: registry).set(to: precisionAt20)
        }
        if let mrrAt20 {
            gauge("mrr_at_20", unit: "", help: "Champion MRR@20 (percent) on the evaluation window.", in: registry).set(to: mrrAt20)
        }
        if let modelVersion {
            gauge("champion_model_version", unit: "", help: "Version of the model serving recommendations.", in: registry).set(to: Double(modelVersion))
        }
        return registry.emitToString()
    }

    /// A gauge named `danser_batch_<name>[_<unit>]`.
    private func gauge(_ name: String, unit: String, help: String, labels: [(String, String)] = [], in registry: PrometheusCollectorRegistry) -> Gauge {
        let descriptor = MetricNameDescriptor(namespace: "danser_batch", metricName: name, unitName: unit, helpText: help)
        return registry.makeGauge(descriptor: descriptor, labels: labels)
    }

    /// What the textfile already in `folder` says, so a run that fails, or cannot reach the
    /// database, keeps the last success and the champion's figures rather than dropping them
    /// (a freshness alert needs them most then).
    struct Previous: Equatable {
        var lastSuccessUnixSeconds: Double?
        var precisionAt20: Double?
        var mrrAt20: Double?
        var modelVersion: Int64?
    }

    static func previous(inFolder folder: String) -> Previous {
        let path = (folder as NSString).appendingPathComponent("danser_batch.prom")
        var previous = Previous()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return previous }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            switch parts[0] {
            case "danser_batch_last_success_timestamp_seconds": previous.lastSuccessUnixSeconds = value
            case "danser_batch_precision_at_20": previous.precisionAt20 = value
            case "danser_batch_mrr_at_20": previous.mrrAt20 = value
            case "danser_batch_champion_model_version": previous.modelVersion = Int64(exactly: value)
            default: break
            }
        }
        return previous
    }

    /// Writes `danser_batch.prom` in `folder` through a temporary file and a rename.
    func write(toFolder folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = (folder as NSString).appendingPathComponent("danser_batch.prom")
        let temporary = path + ".\(getpid()).tmp"
        try text().write(toFile: temporary, atomically: false, encoding: .utf8)
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot replace \(path): \(reason)"])
        }
        return path
    }
}
