extension Trainer {
    /// A trainer that fine-tunes `model`: the same weights, a fresh optimizer, and `learningRate`
    /// decaying as usual, or every `decayStep` epochs when given. The rate is given whole, not as
    /// a share of the model's: a fine-tuned model already holds a scaled rate, and scaling it
    /// again would shrink it every night.
    public init(
        warmStartFrom model: Model, learningRate: Float, decayStep: Int? = nil, seed: UInt64, threads: Int = 1
    ) throws(DANSeRError) {
        guard learningRate > 0, learningRate.isFinite else {
            throw DANSeRError(.invalidConfiguration, "the fine-tuning learning rate must be positive (got \(learningRate))")
        }
        var configuration = model.configuration
        configuration.learningRate = learningRate
        if let decayStep { configuration.decayStep = decayStep }
        let tuned = try Model(configuration: configuration, itemCount: model.itemCount, parameters: model.parameters)
        self.init(model: tuned, optimizer: AdamState(parameterCount: tuned.layout.totalCount), completedEpochs: 0, seed: seed, threads: threads)
    }
}
