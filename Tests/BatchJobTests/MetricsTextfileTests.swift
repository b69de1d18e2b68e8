import Foundation
import Testing

@testable import BatchJob

@Suite struct MetricsTextfileTests {
    func sample() -> RunMetrics {
        var metrics = RunMetrics(asOf: "2026-05-25", status: "succeeded", lastSuccessUnixSeconds: 1_764_400_000)
        metrics.stageSeconds = [("ingest", 1.5), ("train", 40)]
        metrics.clicksIn = 1000
        metrics.recommendationRowsOut = 400
        metrics.quarantinedRows = 2
        metrics.precisionAt20 = 50.5
        metrics.modelVersion = 3
        return metrics
    }

    @Test func speaksPrometheusTextFormat() {
        let text = sample().text()
        #expect(text.contains("# TYPE danser_batch_last_success_timestamp_seconds gauge"))
        #expect(text.contains("danser_batch_stage_duration_seconds{stage=\"train\"} 40"))
        #expect(text.contains("danser_batch_last_run_status{status=\"succeeded\"} 1"))
        #expect(text.contains("danser_batch_last_run_status{status=\"failed\"} 0"))
        #expect(text.contains("danser_batch_quarantined_rows 2"))
        #expect(text.contains("danser_batch_champion_model_version 3"))
        // Every sample line is `name[{labels}] value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "\(line)")
        }
    }

    @Test func replacesTheFileWhole() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("danser-metrics-\(UUID().uuidString)").path
        let path = try sample().write(toFolder: folder)
        // The registry does not promise an order, so compare the sets of lines.
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Set(written.split(separator: "\n")) == Set(sample().text().split(separator: "\n")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["danser_batch.prom"])
    }
}

/// After a failed run the textfile still carries the last success and the champion's figures.
@Suite struct MetricsAcrossFailuresTests {
    @Test func thePreviousFileIsReadBack() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("danser-metrics-\(UUID().uuidString)").path
        var succeeded = RunMetrics(asOf: "2026-05-25", status: "succeeded", lastSuccessUnixSeconds: 1_764_400_000)
        succeeded.precisionAt20 = 50.5
        succeeded.mrrAt20 = 17.25
        succeeded.modelVersion = 3
        _ = try succeeded.write(toFolder: folder)
        let previous = RunMetrics.previous(inFolder: folder)
        #expect(previous == RunMetrics.Previous(lastSuccessUnixSeconds: 1_764_400_000, precisionAt20: 50.5, mrrAt20: 17.25, modelVersion: 3))
        #expect(RunMetrics.previous(inFolder: folder + "/missing") == RunMetrics.Previous())
    }

    @Test func runsAreLabelledByAsOfAndStatus() {
        let text = RunMetrics(asOf: "2026-05-26", status: "failed").text()
        #expect(text.contains("danser_batch_last_run_info{as_of=\"2026-05-26\",status=\"failed\"} 1"))
        #expect(text.contains("danser_batch_last_run_status{status=\"failed\"} 1"))
    }
}
