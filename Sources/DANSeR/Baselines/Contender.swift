internal import Foundation

/// The simple models that a learned recommender must beat, by name.
public enum ContenderKind: String, Sendable, CaseIterable {
    case vsknn, stan, sr, slist
}

/// One contender with one setting of its hyperparameters: what `experiment` tunes over and what a
/// gate evaluates.
public enum ContenderSetting: Sendable, Hashable, CustomStringConvertible {
    case vsknn(VSKNN.Parameters)
    case stan(STAN.Parameters)
    case sr(SequentialRules.Parameters)
    case slist(SLIST.Parameters)

    public var kind: ContenderKind {
        switch self {
        case .vsknn: .vsknn
        case .stan: .stan
        case .sr: .sr
        case .slist: .slist
        }
    }

    public var description: String {
        switch self {
        case .vsknn(let parameters): "\(kind.rawValue) \(parameters)"
        case .stan(let parameters): "\(kind.rawValue) \(parameters)"
        case .sr(let parameters): "\(kind.rawValue) \(parameters)"
        case .slist(let parameters): "\(kind.rawValue) \(parameters)"
        }
    }

    /// Fits the contender on `training` (time order; `endTimes` in microseconds, parallel to it).
    /// Throws when it cannot be fitted (a catalogue over SLIST's memory budget, too little data).
    public func fit(training: [Session], endTimes: [Int64], itemCount: Int, threads: Int = 1) throws(DANSeRError) -> FittedContender {
        switch self {
        case .vsknn(let parameters):
            return FittedContender(setting: self, VSKNN(training: training, itemCount: itemCount, parameters: parameters))
        case .stan(let parameters):
            return FittedContender(
                setting: self, STAN(training: training, endTimes: endTimes, itemCount: itemCount, parameters: parameters))
        case .sr(let parameters):
            return FittedContender(setting: self, SequentialRules(training: training, itemCount: itemCount, parameters: parameters))
        case .slist(let parameters):
            let model = try SLIST(
                training: training, endTimes: endTimes, itemCount: itemCount, parameters: parameters, threads: threads)
            return FittedContender(setting: self, model)
        }
    }
}

/// A fitted contender behind one interface, whatever its kind.
public struct FittedContender: Sendable {
    public let setting: ContenderSetting
    /// N: dense items are 1...itemCount.
    public let itemCount: Int
    private let evaluateBody: @Sendable (PrefixSet, [Int], Int) -> EvaluationResult
    private let recommendBody: @Sendable (ArraySlice<Int32>, Int) -> [(item: Int32, score: Float)]
    private let topKBody: @Sendable ([Session], Int, Bool, Int) -> [[Recommendation]]
    /// Makes a scoring function with its own scratch space, for one thread.
    let makeScorer: @Sendable () -> (ArraySlice<Int32>, inout ItemScores) -> Void

    init(setting: ContenderSetting, _ model: some SessionScorer) {
        self.setting = setting
        itemCount = model.itemCount
        evaluateBody = { model.evaluate(on: $0, cutoffs: $1, threads: $2) }
        recommendBody = { model.recommend($0, k: $1) }
        topKBody = { model.topK($0, k: $1, excludeSeen: $2, threads: $3) }
        makeScorer = {
            var workspace = model.makeWorkspace()
            return { prefix, scores in model.score(prefix, into: &scores, workspace: &workspace) }
        }
    }

    /// Top `k` of every session (see `SessionScorer.topK`): what the night publishes when this contender serves.
    public func topK(_ sessions: [Session], k: Int, excludeSeen: Bool = false, threads: Int = 1) -> [[Recommendation]] {
        topKBody(sessions, k, excludeSeen, threads)
    }

    public func evaluate(on examples: PrefixSet, cutoffs: [Int] = [10, 20], threads: Int = 1) -> EvaluationResult {
        evaluateBody(examples, cutoffs, threads)
    }

    public func recommend(_ prefix: ArraySlice<Int32>, k: Int) -> [(item: Int32, score: Float)] {
        recommendBody(prefix, k)
    }
}

/// Metrics and costs of one setting on one set of examples.
public struct ContenderResult: Sendable {
    public let setting: ContenderSetting
    public let result: EvaluationResult
    public let fitSeconds: Double
    public let scoringSeconds: Double

    /// The documented order: MRR@20 first, then P@20.
    public func isBetter(than other: ContenderResult) -> Bool {
        let (mrr, otherMRR) = (result.reciprocalRank(at: 20), other.result.reciprocalRank(at: 20))
        return mrr != otherMRR ? mrr > otherMRR : result.precision(at: 20) > other.result.precision(at: 20)
    }
}

/// Grid search on a validation split, then a refit on all training sessions.
public enum ContenderTuning {
    /// Training sessions split for tuning: `fit` and the validation sessions reduced to the items
    /// seen in `fit` (as the test split drops items unseen in training), sessions of 2+ clicks kept.
    public static func validationExamples(_ split: ValidationSplit, itemCount: Int) -> PrefixSet {
        var seen = [Bool](repeating: false, count: itemCount + 1)
        for session in split.fit {
            for item in session where item > 0 && Int(item) <= itemCount { seen[Int(item)] = true }
        }
        let sessions = split.validation.map { $0.filter { $0 > 0 && Int($0) <= itemCount && seen[Int($0)] } }
        return PrefixSet(sessions: sessions.filter { $0.count >= 2 })
    }

    /// Fits and scores `setting`, timing both. A fit that fails is rethrown.
    public static func measure(
        _ setting: ContenderSetting, training: [Session], endTimes: [Int64], itemCount: Int, examples: PrefixSet,
        threads: Int
    ) throws(DANSeRError) -> ContenderResult {
        try fitAndMeasure(setting, training: training, endTimes: endTimes, itemCount: itemCount, examples: examples, threads: threads).result
    }

    /// `measure`, keeping the fitted model too.
    public static func fitAndMeasure(
        _ setting: ContenderSetting, training: [Session], endTimes: [Int64], itemCount: Int, examples: PrefixSet,
        threads: Int
    ) throws(DANSeRError) -> (result: ContenderResult, model: FittedContender) {
        let fitStart = Date()
        let model = try setting.fit(training: training, endTimes: endTimes, itemCount: itemCount, threads: threads)
        let fitSeconds = Date().timeIntervalSince(fitStart)
        let scoreStart = Date()
        let result = model.evaluate(on: examples, threads: threads)
        return (
            ContenderResult(
                setting: setting, result: result, fitSeconds: fitSeconds,
                scoringSeconds: Date().timeIntervalSince(scoreStart)),
            model
        )
    }

    /// The best of `results` by `ContenderResult.isBetter` (the first listed wins ties).
    public static func best(_ results: [ContenderResult]) -> ContenderResult? {
        results.reduce(nil) { best, next in best.map { next.isBetter(than: $0) ? next : $0 } ?? next }
    }
}

/// The contest a gate can run: every contender tuned on the training sessions' own validation
/// window, refitted on all of them and scored on the held-out examples.
public enum ContenderContest {
    public struct Entry: Sendable {
        public let kind: ContenderKind
        /// Validation results of every grid point (empty when the grid had one point).
        public let tuning: [ContenderResult]
        /// The chosen setting refitted on all training sessions, on the held-out examples; nil when skipped.
        public let heldOut: ContenderResult?
        /// Why the contender was skipped, if it was.
        public let skipped: String?
        /// The kind of failure that skipped it (a grid no validation can rank is `datasetTooSmall`).
        public var skippedCode: DANSeRError.Code? = nil
        /// The chosen setting fitted on all training sessions (what serves if it wins); nil when skipped.
        public var model: FittedContender? = nil
        /// Seconds spent on the validation grid.
        public var tuningSeconds: Double = 0
        /// The chosen setting's validation result (nil when the grid had one point).
        public var validation: ContenderResult? { tuning.isEmpty ? nil : ContenderTuning.best(tuning) }
    }

    /// Runs each grid of `grids` (one list of settings per contender). A contender that cannot be
    /// fitted is skipped with its reason; nothing here throws. With a single-point grid no
    /// validation split is needed.
    public static func run(
        grids: [[ContenderSetting]], training: [Session], endTimes: [Int64], itemCount: Int, heldOut: PrefixSet,
        validation: ValidationWindow, threads: Int, progress: (ContenderResult) -> Void = { _ in }
    ) -> [Entry] {
        let split: Result<ValidationSplit, DANSeRError> = Result { () throws(DANSeRError) in
            try ValidationSplit(training: training, endTimes: endTimes, window: validation)
        }
        return run(
            grids: grids, training: training, endTimes: endTimes, itemCount: itemCount, heldOut: heldOut,
            validation: split, describing: "\(validation)", threads: threads, progress: progress)
    }

    /// `run` with the validation split given (its `fit` a prefix of `training`), or why there is none.
    public static func run(
        grids: [[ContenderSetting]], training: [Session], endTimes: [Int64], itemCount: Int, heldOut: PrefixSet,
        validation: Result<ValidationSplit, DANSeRError>, describing window: String, threads: Int,
        progress: (ContenderResult) -> Void = { _ in }
    ) -> [Entry] {
        var entries: [Entry] = []
        for grid in grids {
            guard let first = grid.first else { continue }
            var tuning: [ContenderResult] = []
            var chosen = first
            let tuningStart = Date()
            do throws(DANSeRError) {
                if grid.count > 1 {
                    let split = try validation.get()
                    let examples = ContenderTuning.validationExamples(split, itemCount: itemCount)
                    guard examples.count > 0 else {
                        throw DANSeRError(
                            .datasetTooSmall, "the validation window (\(window)) holds no example to rank the grid with")
                    }
                    let fitEnds = Array(endTimes.prefix(split.fit.count))
                    for setting in grid {
                        let result = try ContenderTuning.measure(
                            setting, training: split.fit, endTimes: fitEnds, itemCount: itemCount, examples: examples,
                            threads: threads)
                        tuning.append(result)
                        progress(result)
                    }
                    chosen = ContenderTuning.best(tuning)!.setting
                }
                let tuningSeconds = Date().timeIntervalSince(tuningStart)
                let final = try ContenderTuning.fitAndMeasure(
                    chosen, training: training, endTimes: endTimes, itemCount: itemCount, examples: heldOut,
                    threads: threads)
                entries.append(Entry(
                    kind: first.kind, tuning: tuning, heldOut: final.result, skipped: nil, model: final.model,
                    tuningSeconds: tuningSeconds))
            } catch {
                entries.append(Entry(
                    kind: first.kind, tuning: tuning, heldOut: nil, skipped: error.message, skippedCode: error.code,
                    tuningSeconds: Date().timeIntervalSince(tuningStart)))
            }
        }
        return entries
    }
}
