/// Every switch of the model (MODEL.md sections 1-7). SR-GNN and DANSeR are presets of this
/// one value; every DANSeR part can be switched off on its own.
public struct ModelConfiguration: Codable, Sendable, Hashable {
    /// How attention 1 turns its energies into weights.
    public enum AttentionWeighting: String, Codable, Sendable, Hashable {
        /// SR-GNN: the raw energies q . sigmoid(...) are the weights.
        case raw
        /// DANSeR: a masked softmax over the session's positions.
        case softmax
    }

    /// Hidden size d. Default 100.
    public var hiddenSize: Int = 100
    /// Propagation steps K (receptive fields). SR-GNN 1, DANSeR 3.
    public var propagationSteps: Int = 1
    /// One set of gated-graph weights for every step (true) or one set per step. Default true.
    public var sharesPropagationWeights: Bool = true
    /// Attention 1 weighting. SR-GNN `.raw`, DANSeR `.softmax`.
    public var attentionWeighting: AttentionWeighting = .raw
    /// Attention 1 weights shared across receptive fields (true) or one set per field. Default true.
    public var sharesAttentionWeights: Bool = true
    /// Attention 2 across receptive fields. SR-GNN off, DANSeR on.
    public var usesFieldAttention: Bool = false
    /// NISER normalization of item and session vectors with cosine scores. SR-GNN off.
    public var normalizesVectors: Bool = false
    /// Cosine scale sigma when `normalizesVectors` is on. Default 12 (MODEL.md); the DANSeR preset 10.
    public var cosineScale: Float = 12
    /// Normalization by user behaviour on the item set (section 5). SR-GNN off.
    public var usesBehaviourNormalization: Bool = false
    /// The repeat term rho log(1 + r_j(s)) of the behaviour normalization. Default true; it has
    /// effect only with `usesBehaviourNormalization` (off is the "no repeat term" ablation).
    public var usesRepeatTerm: Bool = true
    /// Self-adaptive negative sampling (section 6). SR-GNN off.
    public var usesAdaptiveNegatives: Bool = false
    /// SANS candidate pool M. Default 100.
    public var negativeCandidates: Int = 100
    /// SANS margin m in logit units. Default 1.0.
    public var negativeMargin: Float = 1.0
    /// SANS loss weight lambda. Default 0.5.
    public var negativeLossWeight: Float = 0.5
    /// Ablation: uniform random negatives instead of adaptive ones. Default false.
    public var usesUniformNegatives: Bool = false
    /// Dropout on the initial node states H0 during training. SR-GNN 0, DANSeR 0.1.
    public var dropout: Float = 0
    /// Adam learning rate. Default 1e-3.
    public var learningRate: Float = 1e-3
    /// L2 penalty added to every gradient (Adam weight decay). Default 1e-5.
    public var l2: Float = 1e-5
    /// The learning rate is multiplied by `decayRate` every `decayStep` epochs. Default 3 and 0.1.
    public var decayStep: Int = 3
    /// See `decayStep`. Default 0.1.
    public var decayRate: Float = 0.1
    /// Sessions (prefixes) per batch. Default 100.
    public var batchSize: Int = 100
    /// Longer sessions keep only their most recent clicks. Default 200.
    public var maxSessionLength: Int = 200
    /// Highway gate between H0 and H_K (SGNN-HN): g = sigmoid([H0 ; H_K] W_g + b_g),
    /// g * H0 + (1 - g) * H_K is read in place of H_K. Off in both presets.
    public var usesHighwayGate: Bool = false
    /// Reversed position embeddings in attention 1 (GCE-GNN, SGNN-HN): a learned
    /// `maxSessionLength` x d table, row 0 for the last click, added to X_k[t] in the energies'
    /// key path only. Off in both presets.
    public var usesReversedPositions: Bool = false
    /// Label smoothing epsilon of the full-softmax cross-entropy: the target distribution is
    /// (1 - epsilon) onehot + epsilon / N. Default 0 (off).
    public var labelSmoothing: Float = 0
    /// SANS ramp-up: lambda rises linearly from 0 to `negativeLossWeight` over the first R
    /// epochs, step by step. Default 0 (off: the full weight from the first step).
    public var negativeRampEpochs: Int = 0

    public init() {}

    /// The public SR-GNN model: K = 1, raw attention, dot-product scores, no extras.
    public static let srgnn = ModelConfiguration()

    /// DANSeR with every part MODEL.md specifies, self-adaptive negative sampling included: what
    /// the one-epoch ablation table switches parts off from.
    public static var allParts: ModelConfiguration {
        var c = ModelConfiguration()
        c.propagationSteps = 3
        c.attentionWeighting = .softmax
        c.usesFieldAttention = true
        c.normalizesVectors = true
        c.usesBehaviourNormalization = true
        c.usesAdaptiveNegatives = true
        c.dropout = 0.1
        return c
    }

    /// The DANSeR preset: every part but SANS, which trailed cross-entropy alone on every seed of
    /// the full-budget validation rows (docs/EXPERIMENTS.md; `experiment --sans` turns it on), and
    /// with K = 2 fields, which matched K = 3 on validation at a third less of the session network,
    /// and a cosine scale of 10, which led 12 on validation at every epoch (and 16 learned slower).
    public static var danser: ModelConfiguration {
        var c = allParts
        c.usesAdaptiveNegatives = false
        c.propagationSteps = 2
        c.cosineScale = 10
        return c
    }

    /// A preset by name (`srgnn`, `danser`), or nil.
    public static func preset(named name: String) -> ModelConfiguration? {
        switch name.lowercased() {
        case "srgnn", "sr-gnn": .srgnn
        case "danser": .danser
        default: nil
        }
    }

    /// True when training can use the memory-lean fused SR-GNN scoring step: plain dot-product
    /// scores and cross-entropy alone (the propagation and attention switches do not matter).
    var usesFusedScoring: Bool {
        !normalizesVectors && !usesBehaviourNormalization && !usesAdaptiveNegatives && !usesUniformNegatives
            && dropout == 0 && labelSmoothing == 0
    }

    /// The SANS weight lambda after `progress` epochs of training (fractional within an epoch):
    /// rising linearly from 0 over the first `negativeRampEpochs`, then `negativeLossWeight`.
    func negativeLossWeight(atEpoch progress: Double) -> Float {
        guard negativeRampEpochs > 0, progress < Double(negativeRampEpochs) else { return negativeLossWeight }
        return negativeLossWeight * Float(max(0, progress) / Double(negativeRampEpochs))
    }

    /// Checks ranges and refuses contradictory switches, naming both settings.
    public func validate() throws(DANSeRError) {
        func bad(_ message: String) -> DANSeRError { DANSeRError(.invalidConfiguration, message) }
        guard hiddenSize >= 1 else { throw bad("hidden size must be at least 1 (got \(hiddenSize))") }
        guard propagationSteps >= 1 else { throw bad("propagation steps must be at least 1 (got \(propagationSteps))") }
        guard batchSize >= 1 else { throw bad("batch size must be at least 1 (got \(batchSize))") }
        guard maxSessionLength >= 2 else {
            throw bad("max session length must be at least 2 (got \(maxSessionLength))")
        }
        guard learningRate > 0, learningRate.isFinite else { throw bad("learning rate must be positive") }
        guard l2 >= 0, l2.isFinite else { throw bad("L2 must be zero or positive") }
        guard decayStep >= 1, decayRate > 0, decayRate <= 1 else {
            throw bad("decay step must be at least 1 and decay rate in (0, 1]")
        }
        guard dropout >= 0, dropout < 1 else { throw bad("dropout must be in [0, 1) (got \(dropout))") }
        guard cosineScale > 0, cosineScale.isFinite else {
            throw bad("the cosine scale must be positive (got \(cosineScale))")
        }
        if !sharesPropagationWeights && propagationSteps == 1 {
            throw bad("per-step propagation weights need more than one propagation step "
                + "(propagation steps 1 with shared propagation weights off); set propagation steps above 1 or share the weights")
        }
        if !sharesAttentionWeights && propagationSteps == 1 {
            throw bad("per-field attention weights need more than one receptive field "
                + "(propagation steps 1 with shared attention weights off); set propagation steps above 1 or share the weights")
        }
        if !sharesAttentionWeights && !usesFieldAttention {
            throw bad("per-field attention weights need attention across receptive fields "
                + "(shared attention weights off with field attention off): only the last field would be read")
        }
        if usesUniformNegatives && !usesAdaptiveNegatives {
            throw bad("uniform negatives replace adaptive negative sampling, which is off "
                + "(uniform negatives on with adaptive negatives off); turn adaptive negatives on to run the ablation")
        }
        if !usesRepeatTerm && !usesBehaviourNormalization {
            throw bad("the repeat term belongs to the behaviour normalization, which is off "
                + "(repeat term off with behaviour normalization off); leave the repeat term on or turn the normalization on")
        }
        if cosineScale != 12 && !normalizesVectors {
            throw bad("a cosine scale (\(cosineScale)) has no effect without normalized vectors "
                + "(cosine scale set with normalize off); turn normalization on or leave the scale at 12")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw bad("label smoothing must be in [0, 1) (got \(labelSmoothing))")
        }
        guard negativeRampEpochs >= 0 else {
            throw bad("the SANS ramp must be zero or more epochs (got \(negativeRampEpochs))")
        }
        if negativeRampEpochs > 0 && !usesAdaptiveNegatives {
            throw bad("a SANS ramp (\(negativeRampEpochs) epochs) needs adaptive negative sampling, which is off "
                + "(SANS ramp set with adaptive negatives off); turn adaptive negatives on or leave the ramp at 0")
        }
        if usesAdaptiveNegatives {
            guard negativeCandidates >= 1 else {
                throw bad("negative candidates must be at least 1 (got \(negativeCandidates))")
            }
            guard negativeMargin >= 0, negativeMargin.isFinite else {
                throw bad("the negative margin must be zero or positive (got \(negativeMargin))")
            }
            guard negativeLossWeight >= 0, negativeLossWeight.isFinite else {
                throw bad("the negative loss weight must be zero or positive (got \(negativeLossWeight))")
            }
        }
    }
}

extension ModelConfiguration {
    /// Keys missing from a stored configuration take their defaults, so a switch added later
    /// never makes an earlier checkpoint or published model unreadable.
    public init(from decoder: any Decoder) throws {
        let stored = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try stored.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = ModelConfiguration()
        self.init()
        hiddenSize = try value(.hiddenSize, d.hiddenSize)
        propagationSteps = try value(.propagationSteps, d.propagationSteps)
        sharesPropagationWeights = try value(.sharesPropagationWeights, d.sharesPropagationWeights)
        attentionWeighting = try value(.attentionWeighting, d.attentionWeighting)
        sharesAttentionWeights = try value(.sharesAttentionWeights, d.sharesAttentionWeights)
        usesFieldAttention = try value(.usesFieldAttention, d.usesFieldAttention)
        normalizesVectors = try value(.normalizesVectors, d.normalizesVectors)
        cosineScale = try value(.cosineScale, d.cosineScale)
        usesBehaviourNormalization = try value(.usesBehaviourNormalization, d.usesBehaviourNormalization)
        usesRepeatTerm = try value(.usesRepeatTerm, d.usesRepeatTerm)
        usesAdaptiveNegatives = try value(.usesAdaptiveNegatives, d.usesAdaptiveNegatives)
        negativeCandidates = try value(.negativeCandidates, d.negativeCandidates)
        negativeMargin = try value(.negativeMargin, d.negativeMargin)
        negativeLossWeight = try value(.negativeLossWeight, d.negativeLossWeight)
        usesUniformNegatives = try value(.usesUniformNegatives, d.usesUniformNegatives)
        dropout = try value(.dropout, d.dropout)
        learningRate = try value(.learningRate, d.learningRate)
        l2 = try value(.l2, d.l2)
        decayStep = try value(.decayStep, d.decayStep)
        decayRate = try value(.decayRate, d.decayRate)
        batchSize = try value(.batchSize, d.batchSize)
        maxSessionLength = try value(.maxSessionLength, d.maxSessionLength)
        usesHighwayGate = try value(.usesHighwayGate, d.usesHighwayGate)
        usesReversedPositions = try value(.usesReversedPositions, d.usesReversedPositions)
        labelSmoothing = try value(.labelSmoothing, d.labelSmoothing)
        negativeRampEpochs = try value(.negativeRampEpochs, d.negativeRampEpochs)
    }
}
