/// SR, sequential rules (Ludewig and Jannach, "Evaluation of session-based recommendation
/// algorithms", 2018). Every training session adds, for each click b and each earlier click a at
/// most `steps` clicks before it, w(d) = 1 / d to the rule a -> b, d the distance in clicks. Each
/// item keeps its `pruning` heaviest rules (0 keeps all). A prefix ending in item x scores
/// score(b) = weight(x -> b); with `window` > 1 the earlier clicks add their rules too, the m-th
/// most recent (m = 1 the last) at 1 / m: score(b) = sum over m <= window of weight(s_(l-m+1) -> b) / m.
public struct SequentialRules: SessionScorer {
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// Largest distance in clicks between the two items of a rule (default 10).
        public var steps = 10
        /// Rules kept per item, heaviest first (default 20; 0 keeps all).
        public var pruning = 20
        /// Most recent clicks of the prefix whose rules are used (default 1, the classic SR).
        public var window = 1

        public init(steps: Int = 10, pruning: Int = 20, window: Int = 1) {
            self.steps = steps
            self.pruning = pruning
            self.window = window
        }

        public var description: String { "steps=\(steps) pruning=\(pruning) window=\(window)" }
    }

    public let parameters: Parameters
    public let itemCount: Int
    /// Rules of item a are ruleTargets/ruleWeights[ruleStart[a]..<ruleStart[a + 1]].
    private let ruleStart: [Int]
    private let ruleTargets: [Int32]
    private let ruleWeights: [Float]

    public init(training: [Session], itemCount: Int, parameters: Parameters = .init()) {
        self.parameters = parameters
        self.itemCount = itemCount
        var rules = [[Int32: Float]](repeating: [:], count: itemCount + 1)
        for session in training {
            let clicks = session.filter { $0 > 0 && Int($0) <= itemCount }
            for (position, target) in clicks.enumerated() {
                for distance in stride(from: 1, through: min(parameters.steps, position), by: 1) {
                    rules[Int(clicks[position - distance])][target, default: 0] += 1 / Float(distance)
                }
            }
        }
        var start = [0]
        var targets: [Int32] = []
        var weights: [Float] = []
        start.reserveCapacity(itemCount + 2)
        for item in 0...itemCount {
            var kept = rules[item].sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            if parameters.pruning > 0, kept.count > parameters.pruning { kept.removeLast(kept.count - parameters.pruning) }
            for (target, weight) in kept {
                targets.append(target)
                weights.append(weight)
            }
            start.append(targets.count)
        }
        ruleStart = start
        ruleTargets = targets
        ruleWeights = weights
    }

    /// The rules of `item`, heaviest first.
    public func rules(from item: Int32) -> [(item: Int32, weight: Float)] {
        (ruleStart[Int(item)]..<ruleStart[Int(item) + 1]).map { (ruleTargets[$0], ruleWeights[$0]) }
    }

    public func makeWorkspace() {}

    public func score(_ prefix: ArraySlice<Int32>, into scores: inout ItemScores, workspace: inout Void) {
        var m = 0
        for item in prefix.reversed() where item > 0 && Int(item) <= itemCount {
            m += 1
            if m > parameters.window { break }
            let factor = 1 / Float(m)
            for rule in ruleStart[Int(item)]..<ruleStart[Int(item) + 1] {
                scores.add(ruleTargets[rule], factor * ruleWeights[rule])
            }
        }
    }
}
