import DANSeR
import Foundation
import Testing

@testable import BatchJob

/// Clicks held as interned integer ids: the same split as over the ids' text, sessions that cross
/// the window's start kept whole, and 16 bytes per click in the per-click arrays.
@Suite struct IngestedClicksTests {
    static let day: Int64 = 86_400_000_000

    static func sample() -> [(session: String, item: String, time: Int64)] {
        var clicks: [(String, String, Int64)] = []
        for s in 0..<60 {
            let start = Int64(s) * day / 6
            for c in 0..<(2 + s % 4) { clicks.append(("session-\(s)", "item-\((s * 7 + c * 3) % 11)", start + Int64(c) * 60_000_000)) }
        }
        // Out of time order within a session, and an item clicked only once.
        clicks.append(("session-3", "item-rare", 3 * day / 6 - 1))
        return clicks.map { (session: $0.0, item: $0.1, time: $0.2) }
    }

    @Test func theSplitOverInternedIdsIsTheSplitOverTheirText() throws {
        var ingested = IngestedClicks()
        for click in Self.sample() { ingested.append(session: click.session, item: click.item, time: click.time) }
        let texts = Self.sample().map { Click(session: $0.session, item: $0.item, time: $0.time) }
        // A stored vocabulary with an item the window never read keeps its dense id.
        let vocabulary = ["item-gone", "item-3", "item-5"]
        for (from, minClicks) in [(nil, 1), (nil, 5), (Optional(4 * Self.day), 2)] as [(Int64?, Int)] {
            let expected = try SessionSplit(
                clicks: texts.filter { from == nil || $0.time >= from! }, testFrom: 8 * Self.day, minItemClicks: minClicks,
                maxSessionLength: 3, vocabulary: vocabulary)
            let split = try ingested.split(from: from, testFrom: 8 * Self.day, minItemClicks: minClicks, maxSessionLength: 3, vocabulary: vocabulary)
            #expect(split.itemIDs == expected.itemIDs)
            #expect(split.training == expected.training)
            #expect(split.trainingEndTimes == expected.trainingEndTimes)
            #expect(split.test == expected.test)
            #expect(split.report == expected.report)
        }
    }

    @Test func sessionsThatCrossTheWindowsStartStayWhole() {
        var ingested = IngestedClicks()
        ingested.append(session: "ended-before", item: "a", time: 90)
        ingested.append(session: "crossing", item: "b", time: 95)
        ingested.append(session: "ended-before", item: "c", time: 99)
        ingested.append(session: "crossing", item: "d", time: 105)
        ingested.append(session: "inside", item: "a", time: 110)
        ingested.keepSessions(clickingFrom: 100)
        #expect(ingested.clickCount == 3)
        #expect(ingested.sessionCount == 2)
        #expect(ingested.activeSessions(since: 0).map(\.id) == ["crossing", "inside"])
        let items = ingested.activeSessions(since: 0).map { $0.items.map { ingested.itemIDs[Int($0)] } }
        #expect(items == [["b", "d"], ["a"]])
        #expect(ingested.firstSeen() == ["a": 110, "b": 95, "d": 105])
        // Dense ids of the model's vocabulary by interned number; 0 for what the model does not know.
        let dense = ingested.denseIDs(in: ["d", "a", "z"], limit: 2)
        #expect(ingested.itemIDs.indices.map { (ingested.itemIDs[$0], dense[$0]) }.filter { $0.1 != 0 }.map(\.0).sorted() == ["a", "d"])
    }

    @Test func aClickCostsSixteenBytes() {
        #expect(IngestedClicks.bytesPerClick == 16)
    }

    /// The window's needs against `--history-days`: evaluation (and validation) days, the
    /// fine-tune window unless retraining, and the active window.
    @Test func theHistoryWindowMustHoldWhatTheNightNeeds() {
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        #expect(settings.historyWindowProblem == nil)
        settings.historyDays = 7
        #expect(settings.historyWindowProblem == nil)  // the fine-tune reads what a retrain reads
        settings.finetuneWindowDays = 7
        #expect(settings.historyWindowProblem?.contains("--finetune-window-days 7") == true)
        settings.mode = .retrain
        #expect(settings.historyWindowProblem == nil)
        settings.validationWindow = .days(6)
        #expect(settings.historyWindowProblem?.contains("--validation-days 6") == true)
        settings.validationWindow = .fraction(0.1)
        settings.activeWindowHours = 24 * 8
        #expect(settings.historyWindowProblem?.contains("--active-window-hours 192") == true)
        #expect(settings.historyStartMicros == LogicalDate(day: 19_993).startMicros)
    }

    /// Resident memory per click of a Diginetica-shaped ingest (numeric ids, about five clicks per
    /// session, 43,097 items), printed for docs/SCALING.md; set DANSER_MEASURE_CLICKS to run it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DANSER_MEASURE_CLICKS"] != nil))
    func residentBytesPerClick() {
        let count = Int(ProcessInfo.processInfo.environment["DANSER_MEASURE_CLICKS"] ?? "") ?? 2_000_000
        ProcessMemory.resetPeak()
        let before = ProcessMemory.currentMiB()
        var ingested = IngestedClicks()
        var state: UInt64 = 42
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            ingested.append(session: String(1_000_000 + i / 5), item: String(100_000 + Int(state >> 33) % 43_097), time: Int64(i) * 1_000_000)
        }
        let peak = (ProcessMemory.peakMiB() - before) * 1_048_576 / Double(count)
        let resident = (ProcessMemory.currentMiB() - before) * 1_048_576 / Double(count)
        print(String(format: "ingest of %d clicks (%d sessions, %d items): peak resident +%.1f bytes per click, resident +%.1f; arrays %d bytes per click",
            count, ingested.sessionIDs.count, ingested.itemIDs.count, peak, resident, IngestedClicks.bytesPerClick))
        #expect(ingested.clickCount == count)
    }
}
