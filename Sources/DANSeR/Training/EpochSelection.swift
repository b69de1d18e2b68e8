/// Picks the epoch on validation and stops early: the best epoch is the one with the highest
/// validation P@20 + MRR@20, then MRR@20 (an earlier epoch wins a tie); training stops once
/// `patience` epochs in a row have not improved on it. The best model is kept, so later, worse
/// epochs never reach the caller. The sum, not MRR@20 first: within one run MRR@20 flattens once
/// the rate decays and wobbles in its second decimal while P@20 still climbs, so MRR@20 first
/// let a wobble of 0.2 throw away a point of P@20.
public struct EpochSelection: Sendable {
    /// Epochs without a new best before stopping (at least 1).
    public let patience: Int
    /// The best epoch so far (1-based) and its validation result.
    public private(set) var bestEpoch: Int?
    public private(set) var bestResult: EvaluationResult?
    /// The weights after the best epoch.
    public private(set) var bestModel: Model?
    /// Epochs recorded since the best one.
    public private(set) var epochsSinceBest = 0

    public init(patience: Int) {
        self.patience = max(1, patience)
    }

    /// Records the validation result of `epoch` (1-based) with the model after it; returns
    /// true when it is the new best.
    @discardableResult
    public mutating func record(epoch: Int, validation: EvaluationResult, model: Model) -> Bool {
        if let bestResult, !Self.isBetter(validation, than: bestResult) {
            epochsSinceBest += 1
            return false
        }
        bestEpoch = epoch
        bestResult = validation
        bestModel = model
        epochsSinceBest = 0
        return true
    }

    /// Takes up a selection a resumed run made before it stopped: `best` was the best of its
    /// epochs up to `completedEpochs`, the ones after it did not improve on it.
    public mutating func resume(bestEpoch: Int, validation: EvaluationResult, model: Model, completedEpochs: Int) {
        self.bestEpoch = bestEpoch
        bestResult = validation
        bestModel = model
        epochsSinceBest = max(0, completedEpochs - bestEpoch)
    }

    /// True once `patience` epochs in a row did not improve on the best.
    public var shouldStop: Bool { epochsSinceBest >= patience }

    /// Higher P@20 + MRR@20, then higher MRR@20; equal is not better.
    public static func isBetter(_ a: EvaluationResult, than b: EvaluationResult) -> Bool {
        let (mrrA, mrrB) = (a.reciprocalRank(at: 20), b.reciprocalRank(at: 20))
        let (sumA, sumB) = (a.precision(at: 20) + mrrA, b.precision(at: 20) + mrrB)
        if sumA != sumB { return sumA > sumB }
        return mrrA > mrrB
    }
}

extension Trainer {
    /// Goes back to `model` (the best on validation) as the state after `completedEpochs`
    /// epochs; the optimizer's moments stay those of the last epoch trained.
    public mutating func rewind(to model: Model, completedEpochs: Int) throws(DANSeRError) {
        guard model.layout == self.model.layout, model.configuration == self.model.configuration else {
            throw DANSeRError(.invalidConfiguration, "the model to go back to has another configuration or layout")
        }
        self.model = model
        self.completedEpochs = completedEpochs
        normalizedStep = -1
    }
}

extension EpochSelection {
    /// After restoring the best of an interrupted run: `completedEpochs` were trained in all,
    /// so the epochs after the best count towards the patience as they did then.
    public mutating func resume(after completedEpochs: Int) {
        epochsSinceBest = max(0, completedEpochs - (bestEpoch ?? 0))
    }
}
