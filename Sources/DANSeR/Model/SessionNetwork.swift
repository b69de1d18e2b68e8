/// The layers of the model and where their weights live. Built the same way from the same
/// configuration and item count, so a layout is reproducible from a checkpoint's header.
/// SR-GNN's configuration lays out exactly SR-GNN's weights, in the same order; DANSeR's extra
/// weights (more steps or fields, attention 2, behaviour scalars) follow them.
struct SessionNetwork: Sendable {
    let embedding: Embedding
    /// One gated graph layer per propagation step, or a single one shared by every step.
    let propagations: [GatedGraphLayer]
    /// One attention-1 readout per receptive field, or a single one shared by every field.
    let readouts: [AttentionReadout]
    /// Attention 2 across receptive fields; nil reads the last field alone.
    let fieldAttention: FieldAttention?
    /// The highway gate between H0 and H_K; nil reads H_K itself.
    let highway: HighwayGate?
    let scorer: ItemScorer
    /// Cosine scores, behaviour adjustment (MODEL.md sections 4 and 5).
    let head: ScoringHead
    let propagationSteps: Int
    /// Parameters from here on are statistics, not weights: no optimizer touches them.
    let frozenStart: Int

    var propagation: GatedGraphLayer { propagations[0] }
    var readout: AttentionReadout { readouts[0] }

    /// Lays out every parameter; SR-GNN's names in comments.
    static func make(configuration c: ModelConfiguration, itemCount: Int) -> (SessionNetwork, ParameterLayout) {
        let d = c.hiddenSize
        let k = c.propagationSteps
        var layout = ParameterLayout()
        let table = layout.add("embedding", rows: itemCount + 1, cols: d)
        func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bool = true) -> Linear {
            Linear(
                weight: layout.add(name + ".weight", rows: inputs, cols: outputs),
                bias: bias ? layout.add(name + ".bias", rows: 1, cols: outputs) : nil)
        }
        /// Step or field 1 keeps SR-GNN's names; later ones get a ".k2", ".k3" ... suffix on the group.
        func group(_ base: String, _ index: Int) -> String { index == 0 ? base : "\(base).k\(index + 1)" }
        var propagations: [GatedGraphLayer] = []
        for step in 0..<(c.sharesPropagationWeights ? 1 : k) {
            let g = group("gnn", step)
            propagations.append(GatedGraphLayer(
                edgeIn: linear(g + ".edge_in", d, d),  // linear_edge_in
                edgeOut: linear(g + ".edge_out", d, d),  // linear_edge_out
                inputInBias: layout.add(g + ".b_iah", rows: 1, cols: d),
                inputOutBias: layout.add(g + ".b_oah", rows: 1, cols: d),
                gateInput: linear(g + ".gate_input", 2 * d, 3 * d),  // w_ih, b_ih
                gateHidden: linear(g + ".gate_hidden", d, 3 * d)))  // w_hh, b_hh
        }
        var readouts: [AttentionReadout] = []
        for field in 0..<(c.sharesAttentionWeights ? 1 : k) {
            let a = group("attention", field)
            let last = linear(a + ".last", d, d)  // linear_one
            let item = linear(a + ".item", d, d)  // linear_two
            let query = layout.add(a + ".query", rows: 1, cols: d)  // linear_three
            let transform = linear(group("readout", field) + ".transform", 2 * d, d)  // linear_transform
            readouts.append(AttentionReadout(
                last: last, item: item, query: query, transform: transform,
                softmax: c.attentionWeighting == .softmax))
        }
        var fieldAttention: FieldAttention? = nil
        if c.usesFieldAttention {
            fieldAttention = FieldAttention(
                field: linear("fields.field", d, d), last: linear("fields.last", d, d, bias: false),
                query: layout.add("fields.query", rows: 1, cols: d))
        }
        // MODEL.md section 10's levers follow both presets' weights, before the behaviour scalars.
        if c.usesReversedPositions {
            for field in 0..<readouts.count {
                readouts[field].positions = layout.add(
                    group("attention", field) + ".positions", rows: c.maxSessionLength, cols: d)
            }
        }
        let highway = c.usesHighwayGate ? HighwayGate(gate: linear("highway.gate", 2 * d, d)) : nil
        var scalars: ParameterSlot? = nil
        if c.usesBehaviourNormalization { scalars = layout.add("behaviour.scalars", rows: 1, cols: 3) }
        let frozenStart = layout.totalCount
        var behaviour: ScoringHead.Behaviour? = nil
        if let scalars {
            behaviour = ScoringHead.Behaviour(
                scalars: scalars,
                logPriors: layout.add("behaviour.log_prior", rows: itemCount + 1, cols: 1),
                sessionPrior: layout.add("behaviour.session_prior", rows: 1, cols: 2),
                usesRepeatTerm: c.usesRepeatTerm)
        }
        let scorer = ItemScorer(table: table)
        let head = ScoringHead(
            scorer: scorer, normalizes: c.normalizesVectors, scale: c.cosineScale, behaviour: behaviour)
        let network = SessionNetwork(
            embedding: Embedding(table: table), propagations: propagations, readouts: readouts,
            fieldAttention: fieldAttention, highway: highway, scorer: scorer, head: head, propagationSteps: k,
            frozenStart: frozenStart)
        return (network, layout)
    }

    /// Everything the backward pass needs.
    struct Pass {
        var propagation: [GatedGraphLayer.Cache] = []
        var readouts: [AttentionReadout.Cache] = []
        var fields: FieldAttention.Cache?
        var highway: HighwayGate.Cache?
        var dropoutMask: [Float]?
        /// The session representations s (B x d), before any normalization.
        var sessions: Matrix
    }

    /// Session representations for a batch. `lookupTable` replaces the embedding table for H0
    /// (the row-normalized table under NISER); `dropoutMask` (n x d, already scaled by
    /// 1 / (1 - p)) multiplies H0 in training.
    func forward(
        _ batch: SessionBatch, _ p: ParameterAccess, lookupTable: UnsafePointer<Float>? = nil,
        dropoutMask: [Float]? = nil
    ) -> Pass {
        var h = embedding(batch.nodeItems, p)
        let d = h.cols
        if let lookupTable {
            for (row, item) in batch.nodeItems.enumerated() {
                for col in 0..<d { h.storage[row &* d &+ col] = lookupTable[Int(item) &* d &+ col] }
            }
        }
        if let dropoutMask {
            for i in 0..<h.storage.count { h.storage[i] *= dropoutMask[i] }
        }
        let initial = h
        var highwayCache: HighwayGate.Cache? = nil
        var caches: [GatedGraphLayer.Cache] = []
        var readoutCaches: [AttentionReadout.Cache] = []
        var fieldOutputs = Matrix(rows: 0, cols: d)
        var lastStates = Matrix(rows: batch.count, cols: d)
        for step in 0..<propagationSteps {
            let (next, cache) = propagations[min(step, propagations.count - 1)].forward(h, graph: batch, p)
            caches.append(cache)
            h = next
            if let highway, step == propagationSteps - 1 {
                (h, highwayCache) = highway.forward(initial: initial, last: h, p)
            }
            // Read this receptive field only when something uses it: attention 2, or the last step.
            guard fieldAttention != nil || step == propagationSteps - 1 else { continue }
            let x = gather(h, batch)
            let (z, readoutCache) = readouts[min(step, readouts.count - 1)].forward(x, graph: batch, p)
            readoutCaches.append(readoutCache)
            fieldOutputs.storage += z.storage
            fieldOutputs.rows += z.rows
            lastStates = readoutCache.lastStates
        }
        guard let fieldAttention else {
            return Pass(
                propagation: caches, readouts: readoutCaches, highway: highwayCache, dropoutMask: dropoutMask,
                sessions: fieldOutputs)
        }
        let (s, fieldCache) = fieldAttention.forward(fields: fieldOutputs, lastStates: lastStates, p)
        return Pass(
            propagation: caches, readouts: readoutCaches, fields: fieldCache, highway: highwayCache,
            dropoutMask: dropoutMask, sessions: s)
    }

    /// X (positions x d) from node states H.
    private func gather(_ h: Matrix, _ batch: SessionBatch) -> Matrix {
        let d = h.cols
        var x = Matrix(rows: batch.positionCount, cols: d)
        for (position, node) in batch.positionNode.enumerated() {
            for col in 0..<d { x.storage[position &* d &+ col] = h.storage[Int(node) &* d &+ col] }
        }
        return x
    }

    /// Adds dX (positions x d) into dH (nodes x d).
    private func scatter(_ dx: Matrix, into dh: inout Matrix, _ batch: SessionBatch) {
        let d = dx.cols
        for (position, node) in batch.positionNode.enumerated() {
            for col in 0..<d { dh.storage[Int(node) &* d &+ col] += dx.storage[position &* d &+ col] }
        }
    }

    /// Accumulates every parameter gradient from dL/ds. The gradient of H0 goes to the embedding
    /// table's gradient, or to `lookupGradient` (a table-shaped buffer) when H0 came from one.
    func backward(
        _ pass: Pass, sessionGradient ds: Matrix, batch: SessionBatch, _ p: ParameterAccess,
        lookupGradient: UnsafeMutablePointer<Float>? = nil
    ) {
        let dh = initialStateGradient(pass, sessionGradient: ds, batch: batch, p)
        if let lookupGradient {
            Embedding.scatterAdd(dh, items: batch.nodeItems, into: lookupGradient)
        } else {
            embedding.backward(items: batch.nodeItems, outputGradient: dh, p)
        }
    }

    /// Accumulates the gradient of every weight but the embedding table from dL/ds; returns
    /// dL/dH0 (dropout applied), one row per node of `batch`.
    func initialStateGradient(
        _ pass: Pass, sessionGradient ds: Matrix, batch: SessionBatch, _ p: ParameterAccess
    ) -> Matrix {
        let d = ds.cols
        let b = batch.count
        // dz for every field read (in reading order) and the extra dL/du_K from attention 2.
        var fieldGradients: [Matrix] = []
        var lastGradient: Matrix? = nil
        if let fieldAttention, let cache = pass.fields {
            let (dz, du) = fieldAttention.backward(cache, outputGradient: ds, p)
            for field in 0..<pass.readouts.count {
                fieldGradients.append(Matrix(
                    rows: b, cols: d, storage: Array(dz.storage[(field * b * d)..<((field + 1) * b * d)])))
            }
            lastGradient = du
        } else {
            fieldGradients = [ds]
        }
        var dh = Matrix(rows: batch.nodeCount, cols: d)
        var highwayInitial: Matrix? = nil
        var field = pass.readouts.count - 1
        for step in stride(from: propagationSteps - 1, through: 0, by: -1) {
            if fieldAttention != nil || step == propagationSteps - 1 {
                let readout = readouts[min(step, readouts.count - 1)]
                var dx = readout.backward(pass.readouts[field], outputGradient: fieldGradients[field], graph: batch, p)
                if step == propagationSteps - 1, let lastGradient {
                    for s in 0..<b {
                        let dst = batch.lastPosition(s) * d
                        for col in 0..<d { dx.storage[dst &+ col] += lastGradient.storage[s &* d &+ col] }
                    }
                }
                scatter(dx, into: &dh, batch)
                field -= 1
            }
            if let highway, let cache = pass.highway, step == propagationSteps - 1 {
                (highwayInitial, dh) = highway.backward(cache, outputGradient: dh, p)
            }
            dh = propagations[min(step, propagations.count - 1)].backward(
                pass.propagation[step], outputGradient: dh, graph: batch, p)
        }
        if let highwayInitial {
            for i in 0..<dh.storage.count { dh.storage[i] += highwayInitial.storage[i] }
        }
        if let mask = pass.dropoutMask {
            for i in 0..<dh.storage.count { dh.storage[i] *= mask[i] }
        }
        return dh
    }
}
