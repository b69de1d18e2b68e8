import ArgumentParser
import DANSeR

/// The quality levers of MODEL.md section 10 that are not part of either preset, each off unless
/// asked for: `experiment` turns them on for the full-budget validation ablations.
struct ModelLeverOptions: ParsableArguments {
    @Flag(help: "Highway gate between H0 and H_K (SGNN-HN): g * H0 + (1 - g) * H_K is read in place of H_K. Off by default.")
    var highway = false

    @Flag(help: "Reversed position embeddings (counted from the last click) added to attention 1's keys (GCE-GNN, SGNN-HN). Off by default.")
    var reversedPositions = false

    @Option(help: "Label smoothing epsilon of the full-softmax cross-entropy, in [0, 1) (default 0: off).")
    var labelSmoothing: Float?

    @Flag(help: "Self-adaptive negative sampling (SANS) on: off in both presets, as the full-budget validation rows put it behind cross-entropy alone.")
    var sans = false

    @Option(help: "Ramp the SANS weight up linearly from 0 over the first R epochs, step by step (default 0: off; needs --sans).")
    var sansRampEpochs: Int?

    @Option(help: "Propagation steps K (receptive fields), 1 or more (default: the configuration's; DANSeR 2, SR-GNN 1).")
    var propagationSteps: Int?

    @Option(help: "Cosine scale sigma of the normalized scores, above 0 (default: the configuration's; DANSeR 10; needs normalized vectors).")
    var cosineScale: Float?

    @Option(help: "Dropout on the initial node states in training, in [0, 1) (default: the configuration's; DANSeR 0.1, SR-GNN 0).")
    var dropout: Float?

    /// The names of the levers turned on, for the model line of the output.
    var names: [String] {
        var names: [String] = []
        if highway { names.append("highway") }
        if reversedPositions { names.append("reversed-positions") }
        if sans { names.append("sans") }
        if let labelSmoothing, labelSmoothing > 0 { names.append("label-smoothing \(labelSmoothing)") }
        if let sansRampEpochs, sansRampEpochs > 0 { names.append("sans-ramp \(sansRampEpochs)") }
        if let propagationSteps { names.append("K \(propagationSteps)") }
        if let cosineScale { names.append("cosine-scale \(cosineScale)") }
        if let dropout { names.append("dropout \(dropout)") }
        return names
    }

    func validate() throws {
        if let labelSmoothing, !(labelSmoothing >= 0 && labelSmoothing < 1) {
            throw ValidationError("--label-smoothing must be in [0, 1), e.g. 0.1 (got \(labelSmoothing)).")
        }
        if let sansRampEpochs, sansRampEpochs < 0 {
            throw ValidationError("--sans-ramp-epochs must be 0 or more (got \(sansRampEpochs)).")
        }
        if let propagationSteps, propagationSteps < 1 {
            throw ValidationError("--propagation-steps must be 1 or more, e.g. 2 (got \(propagationSteps)).")
        }
        if let cosineScale, !(cosineScale > 0 && cosineScale.isFinite) {
            throw ValidationError("--cosine-scale must be above 0, e.g. 16 (got \(cosineScale)).")
        }
        if let dropout, !(dropout >= 0 && dropout < 1) {
            throw ValidationError("--dropout must be in [0, 1), e.g. 0.2 (got \(dropout)).")
        }
    }

    /// `configuration` with the levers asked for turned on.
    func applied(to configuration: ModelConfiguration) -> ModelConfiguration {
        var c = configuration
        if highway { c.usesHighwayGate = true }
        if reversedPositions { c.usesReversedPositions = true }
        if sans { c.usesAdaptiveNegatives = true }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let sansRampEpochs { c.negativeRampEpochs = sansRampEpochs }
        if let cosineScale { c.cosineScale = cosineScale }
        if let dropout { c.dropout = dropout }
        if let propagationSteps {
            c.propagationSteps = propagationSteps
            // One step has one set of weights to share; more keep the configuration's sharing.
            if propagationSteps == 1 { c.sharesPropagationWeights = true; c.sharesAttentionWeights = true }
        }
        return c
    }
}
