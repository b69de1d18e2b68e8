/// A trained or initialized model: its configuration, item count and every weight.
public struct Model: Sendable {
    public let configuration: ModelConfiguration
    /// N: items are 1...itemCount.
    public let itemCount: Int
    public let layout: ParameterLayout
    /// All weights in one flat vector, in `layout` order.
    public internal(set) var parameters: [Float]
    let network: SessionNetwork

    /// A fresh model with SR-GNN's initialization: every weight uniform in (-1/sqrt(d), 1/sqrt(d)).
    public init(configuration: ModelConfiguration, itemCount: Int, seed: UInt64) throws(DANSeRError) {
        try configuration.validate()
        guard itemCount >= 1 else {
            throw DANSeRError(.datasetTooSmall, "a model needs at least one item (got \(itemCount))")
        }
        self.configuration = configuration
        self.itemCount = itemCount
        (network, layout) = SessionNetwork.make(configuration: configuration, itemCount: itemCount)
        var random = RandomSource(seed: seed, stream: 1, epoch: 0)
        let bound = 1 / Float(configuration.hiddenSize).squareRoot()
        parameters = (0..<layout.totalCount).map { _ in random.uniform(-bound, bound) }
        resetBehaviour()
    }

    /// A model from stored weights (a checkpoint); the count must match the layout.
    init(configuration: ModelConfiguration, itemCount: Int, parameters: [Float]) throws(DANSeRError) {
        try configuration.validate()
        self.configuration = configuration
        self.itemCount = itemCount
        (network, layout) = SessionNetwork.make(configuration: configuration, itemCount: itemCount)
        guard parameters.count == layout.totalCount else {
            throw DANSeRError(
                .checkpointMismatch,
                "the stored weights hold \(parameters.count) values but the configuration needs \(layout.totalCount)")
        }
        self.parameters = parameters
    }
}
