/// One DANSeR part switched off, by the name the ablation table and `experiment --ablate` use.
public enum Ablation: String, CaseIterable, Sendable {
    /// One propagation step (K = 1): a single receptive field.
    case oneField = "k1"
    /// Attention 2 off: the last receptive field alone is read.
    case noFieldAttention = "no-field-attention"
    /// Attention 1 uses SR-GNN's raw energies instead of a softmax.
    case rawAttention = "raw-attention"
    /// Normalization by user behaviour off (popularity and repeat terms).
    case noBehaviourNormalization = "no-behaviour-normalization"
    /// The repeat term rho log(1 + r_j(s)) off; the popularity term stays.
    case noRepeatTerm = "no-repeat-term"
    /// Self-adaptive negative sampling off: cross-entropy alone.
    case noNegativeSampling = "no-sans"
    /// Uniform random negatives in place of the adaptive hard set.
    case uniformNegatives = "uniform-negatives"
    /// NISER off: dot-product scores on raw vectors.
    case noVectorNormalization = "no-niser"
    /// No dropout on H0.
    case noDropout = "no-dropout"

    /// `configuration` with this part switched off.
    public func applied(to configuration: ModelConfiguration) -> ModelConfiguration {
        var c = configuration
        switch self {
        case .oneField: c.propagationSteps = 1; c.sharesPropagationWeights = true; c.sharesAttentionWeights = true
        case .noFieldAttention: c.usesFieldAttention = false; c.sharesAttentionWeights = true
        case .rawAttention: c.attentionWeighting = .raw
        case .noBehaviourNormalization: c.usesBehaviourNormalization = false; c.usesRepeatTerm = true
        case .noRepeatTerm: c.usesRepeatTerm = false
        case .noNegativeSampling: c.usesAdaptiveNegatives = false; c.usesUniformNegatives = false
        case .uniformNegatives: c.usesUniformNegatives = true
        case .noVectorNormalization: c.normalizesVectors = false; c.cosineScale = 12
        case .noDropout: c.dropout = 0
        }
        return c
    }
}
