import Foundation
import Testing

@testable import BatchJob

@Suite struct ContestRulesTests {
    func row(_ name: String, p: Double, mrr: Double) -> RunReport.Comparison {
        RunReport.Comparison(name: name, precisionAt20: p, mrrAt20: mrr, precisionAt10: p, mrrAt10: mrr)
    }

    @Test func warnsOnlyBeyondTheKNNMargin() {
        let knn = row("session kNN", p: 55.30, mrr: 20.03)
        #expect(ContestSettings.knnWarning(candidate: row("candidate", p: 50, mrr: 19.5), knn: knn, margin: 1, contest: true) == nil)
        let loud = ContestSettings.knnWarning(candidate: row("candidate", p: 48.92, mrr: 16.38), knn: knn, margin: 1, contest: true)
        #expect(loud?.contains("trails session kNN's 20.03 by 3.65 points (--knn-margin 1.00)") == true)
        let alone = ContestSettings.knnWarning(candidate: row("candidate", p: 48.92, mrr: 16.38), knn: knn, margin: 1, contest: false)
        #expect(alone?.contains("--contenders none") == true)
        #expect(ContestSettings.knnWarning(candidate: row("candidate", p: .nan, mrr: .nan), knn: knn, margin: 1, contest: true) != nil)
        #expect(ContestSettings.knnWarning(candidate: row("candidate", p: 1, mrr: 1), knn: knn, margin: 100, contest: true) == nil)
    }

    @Test func nightlyGridsAreSmallAndNamedOptionsAreRefused() throws {
        let standard = ContestSettings.standard
        #expect(standard.grids.map(\.kind) == [.vsknn, .stan, .sr, .slist] && standard.blend && standard.knnMargin == 1)
        #expect(standard.grids.allSatisfy { $0.settings.count <= 2 })
        #expect(standard.grids.first { $0.kind == .vsknn }?.tunedOptions == ["--vsknn-k"])
        // experiment keeps its full grids.
        #expect(try ContenderOptions.parse([]).grid(for: .vsknn).settings.count == 12)
        let options = try ContestOptions.parse(["--contenders", "sr,blend", "--sr-steps", "5,10"])
        var settings = NightlySettings(asOf: LogicalDate(day: 0))
        try options.apply(to: &settings)
        #expect(settings.contest.grids.map(\.kind) == [.sr] && settings.contest.blend)
        #expect(settings.contest.grids[0].tunedOptions == ["--sr-steps", "--sr-window"])
        #expect(throws: (any Error).self) { try ContestOptions.parse(["--contenders", "knn"]) }
        #expect(throws: (any Error).self) { try ContestOptions.parse(["--knn-margin", "-1"]) }
        #expect(try ContestOptions.parse(["--contenders", "none"]).parsedContenders().kinds.isEmpty)
    }
}
