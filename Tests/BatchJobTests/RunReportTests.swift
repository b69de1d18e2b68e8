import Foundation
import Testing

@testable import BatchJob

extension RunReport {
    /// A filled-in report such as a nightly run produces.
    static func sample() -> RunReport {
        var report = RunReport(runID: 7, asOf: "2026-05-25", status: "succeeded", mode: "retrain", modelVersion: 3, champion: "model 3")
        report.syntheticData = true
        report.counts = [("sessions scored", "1,234"), ("recommendation rows", "24,680"), ("quarantined rows", "0")]
        report.stageSeconds = [("ingest", 1.2), ("train", 30.5), ("evaluate", 2.1), ("publish", 0.4), ("score", 3.3)]
        report.epochs = (1...5).map { RunReport.EpochRow(epoch: $0, loss: 8 - Double($0), precisionAt20: 40 + Double($0) * 2, mrrAt20: 12 + Double($0)) }
        report.comparison = [
            .init(name: "candidate", precisionAt20: 50.1, mrrAt20: 17.2, precisionAt10: 38.0, mrrAt10: 16.4),
            .init(name: "champion", precisionAt20: 49.7, mrrAt20: 17.0, precisionAt10: 37.5, mrrAt10: 16.1),
            .init(name: "popularity", precisionAt20: 5.2, mrrAt20: 1.3, precisionAt10: 3.1, mrrAt10: 1.1),
            .init(name: "session kNN", precisionAt20: 45.0, mrrAt20: 15.8, precisionAt10: 34.0, mrrAt10: 15.0),
        ]
        report.history = (1...12).map {
            RunReport.PastRun(asOf: String(format: "2026-05-%02d", $0 + 10), precisionAt20: 48 + Double($0 % 3), mrrAt20: 16 + Double($0 % 2), stageSeconds: ["ingest": 1, "train": 30, "score": 3])
        }
        report.scores = (0..<500).map { sin(Double($0)) * 3 + 5 }
        report.catalogueCoverage = 0.42
        report.popularityDeciles = [0.4, 0.2, 0.1, 0.08, 0.07, 0.05, 0.04, 0.03, 0.02, 0.01]
        return report
    }
}

@Suite struct RunReportTests {
    @Test func isSelfContainedWithEveryChart() {
        let html = RunReport.sample().html()
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count - 1 == 8)
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        #expect(html.contains("SYNTHETIC DATA"))
        #expect(html.contains("session kNN"))
    }

    @Test func emptyRunStillRenders() {
        let html = RunReport(runID: 1, asOf: "2026-01-01", status: "failed", mode: "retrain", modelVersion: nil, champion: "none").html()
        #expect(html.contains("</html>"))
        #expect(!html.contains("nan") && !html.contains("inf"))
    }

    @Test func escapesText() {
        var report = RunReport.sample()
        report.notes = ["<b>&"]
        #expect(report.html().contains("&lt;b&gt;&amp;"))
    }
}
