extension ModelConfiguration {
    /// Every setting that differs between presets, on one line (what the experiment output,
    /// the run report and the README show).
    public var summary: String {
        let c = self
        var parts = ["d \(c.hiddenSize)", "K \(c.propagationSteps)", "attention \(c.attentionWeighting.rawValue)"]
        if c.usesFieldAttention { parts.append("field attention") }
        if !c.sharesPropagationWeights { parts.append("per-step GNN weights") }
        if !c.sharesAttentionWeights { parts.append("per-field attention weights") }
        if c.normalizesVectors { parts.append("cosine scores (scale \(c.cosineScale))") }
        if c.usesBehaviourNormalization { parts.append(c.usesRepeatTerm ? "behaviour normalization" : "behaviour normalization without repeat term") }
        if c.usesAdaptiveNegatives {
            parts.append((c.usesUniformNegatives ? "uniform negatives" : "adaptive negatives")
                + " (M \(c.negativeCandidates), margin \(c.negativeMargin), weight \(c.negativeLossWeight))")
        }
        if c.negativeRampEpochs > 0 { parts.append("SANS weight ramped up over \(c.negativeRampEpochs) epochs") }
        if c.usesHighwayGate { parts.append("highway gate H0-H_K") }
        if c.usesReversedPositions { parts.append("reversed positions in attention 1") }
        if c.labelSmoothing > 0 { parts.append("label smoothing \(c.labelSmoothing)") }
        if c.dropout > 0 { parts.append("dropout \(c.dropout)") }
        parts.append("lr \(c.learningRate) x\(c.decayRate) every \(c.decayStep) epochs, L2 \(c.l2), batch \(c.batchSize)")
        return parts.joined(separator: ", ")
    }
}
