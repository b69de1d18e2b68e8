extension Trainer {
    /// A trainer that fine-tunes `model`: the same weights, a fresh optimizer, and the
    /// configuration's learning rate scaled by `learningRateScale` (e.g. 0.1), decaying as usual.
    public init(
        warmStartFrom model: Model, learningRateScale: Float, seed: UInt64, threads: Int = 1
    ) throws(DANSeRError) {
        guard learningRateScale > 0, learningRateScale.isFinite else {
            throw DANSeRError(.invalidConfiguration, "the fine-tuning learning-rate scale must be positive (got \(learningRateScale))")
        }
        var configuration = model.configuration
        configuration.learningRate *= learningRateScale
        let tuned = try Model(configuration: configuration, itemCount: model.itemCount, parameters: model.parameters)
        self.init(model: tuned, optimizer: AdamState(parameterCount: tuned.layout.totalCount), completedEpochs: 0, seed: seed, threads: threads)
    }
}
