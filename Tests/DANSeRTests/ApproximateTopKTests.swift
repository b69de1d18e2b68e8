import Testing

@testable import DANSeR

@Suite struct ApproximateTopKTests {
    let items = 300

    func sessions(count: Int) -> [Session] {
        var random = RandomSource(seed: 5, stream: 9, epoch: 0)
        return (0..<count).map { _ in
            // Repeats within a session exercise the repeat term.
            (0..<(2 + Int(random.next() % 6))).map { _ in Int32(1 + Int(random.next() % UInt64(items / 3))) }
        }
    }

    /// SR-GNN, and DANSeR with behaviour statistics and non-zero learned scalars (b0, b1, rho).
    func models() throws -> [Model] {
        var srgnn = ModelConfiguration.srgnn
        srgnn.hiddenSize = 16
        var danser = ModelConfiguration.danser
        danser.hiddenSize = 16
        var behavioural = try Model(configuration: danser, itemCount: items, seed: 4)
        try behavioural.setBehaviourStatistics(BehaviourStatistics(training: sessions(count: 200), itemCount: items))
        let scalars = behavioural.network.head.behaviour!.scalars.offset
        behavioural.parameters.replaceSubrange(scalars..<(scalars + 3), with: [0.7, -0.4, 1.3])
        return [try Model(configuration: srgnn, itemCount: items, seed: 4), behavioural]
    }

    func topK(_ model: Model, _ approximate: ApproximateTopK?, excludeSeen: Bool) -> [[Recommendation]] {
        var recommender = Recommender(model: model)
        recommender.approximate = approximate
        recommender.batchSize = 16
        recommender.threads = 2
        var all: [[Recommendation]] = []
        recommender.topK(sessions(count: 50), k: 20, excludeSeen: excludeSeen) { _, results in all += results }
        return all
    }

    @Test(arguments: [false, true])
    func scanningEveryCellGivesTheExactTopK(excludeSeen: Bool) throws {
        for model in try models() {
            let index = try ApproximateTopK(model: model, lists: 8, probes: 8)
            let exact = topK(model, nil, excludeSeen: excludeSeen)
            let approximate = topK(model, index, excludeSeen: excludeSeen)
            #expect(approximate.map { $0.map(\.item) } == exact.map { $0.map(\.item) })
            let close = zip(approximate.joined(), exact.joined()).allSatisfy { abs($0.score - $1.score) <= 1e-4 }
            #expect(close, "scores differ (behaviour normalization: \(model.configuration.usesBehaviourNormalization))")
        }
    }

    /// Few probes over small, uneven cells: every session still gets its 20 (the short ones are
    /// searched again over every cell), for both models and with the session's items excluded.
    @Test(arguments: [false, true])
    func aSessionAlwaysGetsItsK(excludeSeen: Bool) throws {
        for model in try models() {
            let approximate = topK(model, try ApproximateTopK(model: model, lists: 32, probes: 1), excludeSeen: excludeSeen)
            #expect(approximate.allSatisfy { $0.count == 20 })
        }
    }

    @Test func fewerProbesFindMostOfTheExactTopK() throws {
        let model = try models()[1]
        let exact = topK(model, nil, excludeSeen: false)
        let approximate = topK(model, try ApproximateTopK(model: model, lists: 16, probes: 4), excludeSeen: false)
        let found = zip(approximate, exact).map { Set($0.map(\.item)).intersection($1.map(\.item)).count }.reduce(0, +)
        let recall = Double(found) / Double(exact.joined().count)
        #expect(recall > 0.3 && approximate.allSatisfy { $0.count == 20 })
    }

    @Test func tooManyListsForTheCatalogueIsRefused() throws {
        #expect(throws: DANSeRError.self) { try ApproximateTopK(model: try models()[0], lists: 301) }
    }
}
