import Testing

@testable import DANSeR

@Suite struct TopKTests {
    func reference(_ scores: [Float], k: Int, excluded: Set<Int32>) -> [Int32] {
        scores.indices.filter { !excluded.contains(Int32($0)) && !scores[$0].isNaN }
            .sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            .prefix(k).map(Int32.init)
    }

    @Test(arguments: [1, 5, 20, 100])
    func matchesAFullSort(k: Int) {
        var state: UInt64 = 9
        let scores: [Float] = (0..<10_007).map { _ in
            state = state &* 6364136223846793005 &+ 1
            return Float(Int(state >> 50) % 500) / 7  // many ties
        }
        let excluded: Set<Int32> = [3, 17, 4000]
        var result: [(index: Int32, score: Float)] = []
        scores.withUnsafeBufferPointer { TopK.select($0.baseAddress!, count: $0.count, k: k, excluded: excluded, into: &result) }
        #expect(result.map(\.index) == reference(scores, k: k, excluded: excluded))
    }

    @Test func fewerItemsThanKAndNaN() {
        let scores: [Float] = [1, .nan, 3, -.infinity]
        var result: [(index: Int32, score: Float)] = []
        scores.withUnsafeBufferPointer { TopK.select($0.baseAddress!, count: 4, k: 20, into: &result) }
        #expect(result.map(\.index) == [2, 0, 3])
    }

    /// A NaN (of either sign) in a block must not hide the block's best scores.
    @Test func nanDoesNotHideItsNeighbours() {
        var scores = (0..<1_000).map { Float($0 % 97) / 10 }
        scores[700] = .nan
        scores[701] = 50
        scores[900] = -Float.nan
        scores[901] = 40
        var result: [(index: Int32, score: Float)] = []
        scores.withUnsafeBufferPointer { TopK.select($0.baseAddress!, count: $0.count, k: 5, into: &result) }
        #expect(result.map(\.index) == reference(scores, k: 5, excluded: []))
        #expect(result.prefix(2).map(\.index) == [701, 901])
    }
}
