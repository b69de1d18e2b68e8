/// The behaviour normalization's numbers inside a model's parameters (MODEL.md section 5): the
/// statistics training fills in, and the learned scalars the feature store publishes.
extension Model {
    /// True when behaviour normalization is on and its statistics are not filled in yet.
    var needsBehaviourStatistics: Bool {
        guard let behaviour = network.head.behaviour else { return false }
        return parameters[behaviour.sessionPrior.offset + 1] <= 0
    }

    /// Stores the statistics the behaviour normalization reads (log priors, mu, sd); the learned
    /// scalars are left as they are.
    public mutating func setBehaviourStatistics(_ statistics: BehaviourStatistics) throws(DANSeRError) {
        guard let behaviour = network.head.behaviour else { return }
        guard statistics.itemCount == itemCount else {
            throw DANSeRError(
                .checkpointMismatch,
                "the behaviour statistics cover \(statistics.itemCount) items but the model has \(itemCount)")
        }
        parameters.replaceSubrange(
            behaviour.logPriors.offset..<(behaviour.logPriors.offset + behaviour.logPriors.count),
            with: statistics.logPriors)
        parameters[behaviour.sessionPrior.offset] = Float(statistics.sessionPriorMean)
        parameters[behaviour.sessionPrior.offset + 1] = Float(statistics.sessionPriorSD)
    }

    /// The learned behaviour scalars by name (b0, b1, rho); empty when the switch is off.
    public var behaviourScalars: [String: Double] {
        guard let behaviour = network.head.behaviour else { return [:] }
        let o = behaviour.scalars.offset
        return ["b0": Double(parameters[o]), "b1": Double(parameters[o + 1]), "rho": Double(parameters[o + 2])]
    }

    /// Zeroes the behaviour scalars and statistics (a fresh model starts as plain scoring).
    mutating func resetBehaviour() {
        guard let behaviour = network.head.behaviour else { return }
        zero(behaviour.scalars)
        clearBehaviourStatistics()
    }

    /// Marks the behaviour statistics unset (kept scalars); training fills them in again.
    mutating func clearBehaviourStatistics() {
        guard let behaviour = network.head.behaviour else { return }
        zero(behaviour.logPriors)
        zero(behaviour.sessionPrior)
    }

    private mutating func zero(_ slot: ParameterSlot) {
        parameters.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: repeatElement(0, count: slot.count))
    }
}

extension BehaviourStatistics {
    /// These statistics with the learned scalars of `model` (what the feature store keeps).
    public func withLearnedScalars(of model: Model) -> BehaviourStatistics {
        var copy = self
        copy.learnedScalars = model.behaviourScalars
        return copy
    }
}
