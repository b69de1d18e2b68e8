import Testing

@testable import DANSeR

@Suite struct VocabularyTests {
    func clicks(_ sessions: [(String, [String], Int64)]) -> [Click<String, String>] {
        sessions.flatMap { session, items, start in
            items.enumerated().map { Click(session: session, item: $1, time: start + Int64($0)) }
        }
    }

    @Test func aStoredVocabularyKeepsItsIdsAndIsOnlyExtended() throws {
        let log = clicks([("a", ["x", "y", "z"], 0), ("b", ["z", "w", "x"], 10), ("c", ["w", "y"], 100)])
        let split = try SessionSplit(clicks: log, testFrom: 100, minItemClicks: 1, vocabulary: ["old", "w", "x"])
        #expect(Array(split.itemIDs.prefix(3)) == ["old", "w", "x"])
        #expect(Set(split.itemIDs.dropFirst(3)) == ["y", "z"])
        #expect(split.training.first == [3, Int32(split.itemIDs.firstIndex(of: "y")! + 1), Int32(split.itemIDs.firstIndex(of: "z")! + 1)])
        #expect(split.test == [[2, Int32(split.itemIDs.firstIndex(of: "y")! + 1)]])
    }
}
