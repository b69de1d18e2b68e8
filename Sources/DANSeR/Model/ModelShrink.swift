extension Model {
    /// The model with every weight moved toward a fresh initialization: `keep` x this weight +
    /// (1 - keep) x the weight a new model from `seed` starts with ("shrink and perturb"). A
    /// warm start trained again on the sessions it has already fitted overfits them; pulling it
    /// part of the way back to a random start restores some of a retrain's room to learn while
    /// keeping most of what it knew. `keep` 1 returns the model unchanged.
    public func shrunk(keeping keep: Float, seed: UInt64) throws(DANSeRError) -> Model {
        guard keep > 0, keep <= 1 else {
            throw DANSeRError(.invalidConfiguration, "the share of the weights a fine-tune keeps must be above 0 and at most 1 (got \(keep))")
        }
        if keep == 1 { return self }
        var mixed = try Model(configuration: configuration, itemCount: itemCount, seed: seed)
        for index in mixed.parameters.indices {
            mixed.parameters[index] = keep * parameters[index] + (1 - keep) * mixed.parameters[index]
        }
        // The behaviour statistics are counts of the training sessions, not learned: kept as they are.
        if let behaviour = network.head.behaviour {
            for slot in [behaviour.logPriors, behaviour.sessionPrior] {
                let range = slot.offset..<(slot.offset + slot.count)
                mixed.parameters.replaceSubrange(range, with: parameters[range])
            }
        }
        return mixed
    }
}
