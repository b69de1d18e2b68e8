import Testing
@testable import DANSeR

/// The standard split and filters on small hand-made logs, and the session graph.
@Suite struct SessionDataTests {
    typealias C = Click<String, String>

    /// Builds clicks from (session, item, minute) triples.
    static func log(_ rows: [(String, String, Int64)]) -> [C] {
        rows.map { C(session: $0.0, item: $0.1, time: $0.2 * 60_000_000) }
    }

    static let day: Int64 = 24 * 60  // minutes

    @Test func filtersAndSplit() throws {
        var rows: [(String, String, Int64)] = []
        // Items a, b, c are popular (5+ clicks); r is rare; a one-click session; t has a test-only item.
        for s in 0..<5 { rows += [("s\(s)", "a", Int64(s) * 10), ("s\(s)", "b", Int64(s) * 10 + 1), ("s\(s)", "c", Int64(s) * 10 + 2)] }
        rows += [("one", "a", 100)]
        rows += [("rare", "r", 110), ("rare", "a", 111)]  // left with 1 click after the rare item goes
        rows += [("t1", "c", Self.day + 1), ("t1", "a", Self.day + 2), ("t1", "b", Self.day + 3)]
        rows += [("t2", "z", Self.day + 5), ("t2", "z", Self.day + 6), ("t2", "z", Self.day + 7)]
        rows += [("t2", "z", Self.day + 8), ("t2", "z", Self.day + 9), ("t2", "a", Self.day + 10)]
        let split = try SessionSplit(clicks: Self.log(rows), testFrom: Self.day * 60_000_000)
        #expect(split.training.count == 5)
        #expect(split.itemIDs == ["a", "b", "c"])
        #expect(split.training.allSatisfy { $0 == [1, 2, 3] })
        // t2's z has 5 clicks, but only in the test window: dropped as unseen, leaving 1 click.
        #expect(split.test == [[3, 1, 2]])
        #expect(split.report.singleClickSessions == 1)
        #expect(split.report.rareItemClicks == 1)
        #expect(split.report.sessionsShortAfterRareItems == 1)
        #expect(split.report.unseenTestClicks == 5)
        #expect(split.report.testSessionsShortAfterUnseen == 1)
        let training = PrefixSet(sessions: split.training)
        #expect(training.count == 10)
        #expect(Array(training.prefix(0)) == [1, 2] && training.target(0) == 3)
        #expect(Array(training.prefix(1)) == [1] && training.target(1) == 2)
    }

    @Test func clicksOutOfOrderAreSortedByTime() throws {
        let rows: [(String, String, Int64)] = [
            ("s", "b", 2), ("s", "a", 1), ("s", "c", 3), ("u", "a", 5), ("u", "b", 6), ("v", "a", Self.day), ("v", "b", Self.day + 1),
        ]
        let split = try SessionSplit(clicks: Self.log(rows), testFrom: Self.day * 60_000_000, minItemClicks: 1)
        #expect(split.itemIDs == ["a", "b", "c"])
        #expect(split.training == [[1, 2, 3], [1, 2]])
    }

    @Test func longSessionsKeepTheirMostRecentClicks() throws {
        var rows: [(String, String, Int64)] = (0..<30).map { ("long", "i\($0 % 3)", Int64($0)) }
        rows += [("t", "i0", Self.day), ("t", "i1", Self.day + 1)]
        let split = try SessionSplit(
            clicks: Self.log(rows), testFrom: Self.day * 60_000_000, minItemClicks: 1, maxSessionLength: 10)
        #expect(split.training[0].count == 10)
        #expect(split.report.truncatedSessions == 1)
        #expect(split.report.truncatedClicks == 20)
    }

    @Test func tooLittleDataIsAClearError() {
        #expect(throws: DANSeRError.self) { try SessionSplit(clicks: [C](), testFrom: 0) }
        do {
            _ = try SessionSplit(clicks: Self.log([("s", "a", 1)]), testFrom: 0)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .datasetTooSmall)
        }
        // Training data but nothing in the test window.
        let rows: [(String, String, Int64)] = [("s", "a", 1), ("s", "b", 2)]
        do {
            _ = try SessionSplit(clicks: Self.log(rows), testFrom: Self.day * 60_000_000, minItemClicks: 1)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .emptyTestWindow)
            #expect(error.message.contains("--test-from"))
        }
    }

    /// SR-GNN's graph for [1, 2, 3, 2, 4]: nodes 1, 2, 3, 4; edges 1->2, 2->3, 3->2, 2->4.
    @Test func sessionGraph() {
        let batch = SessionBatch(prefixes: [[1, 2, 3, 2, 4][...], [7][...]], targets: [5, 6])
        #expect(batch.nodeItems == [1, 2, 3, 4, 7])
        #expect(batch.positionNode == [0, 1, 2, 1, 3, 4])
        #expect(batch.lastPosition(0) == 4 && batch.lastPosition(1) == 5)
        func row(_ start: [Int32], _ index: [Int32], _ weight: [Float], _ node: Int) -> [Int32: Float] {
            var result: [Int32: Float] = [:]
            for e in Int(start[node])..<Int(start[node + 1]) { result[index[e]] = weight[e] }
            return result
        }
        // Node 2 (index 1) has in-edges from 1 and 3: weight 1/2 each; out-edges to 3 and 4: 1/2 each.
        #expect(row(batch.inStart, batch.inSource, batch.inWeight, 1) == [0: 0.5, 2: 0.5])
        #expect(row(batch.outStart, batch.outTarget, batch.outWeight, 1) == [2: 0.5, 3: 0.5])
        #expect(row(batch.inStart, batch.inSource, batch.inWeight, 0).isEmpty)
        #expect(row(batch.outStart, batch.outTarget, batch.outWeight, 0) == [1: 1])
        #expect(row(batch.inStart, batch.inSource, batch.inWeight, 4).isEmpty)  // one-click session
    }

    @Test func configurationSwitches() throws {
        try ModelConfiguration.srgnn.validate()
        try ModelConfiguration.danser.validate()
        var bad = ModelConfiguration.srgnn
        bad.batchSize = 0
        #expect(throws: DANSeRError.self) { try bad.validate() }
    }
}
