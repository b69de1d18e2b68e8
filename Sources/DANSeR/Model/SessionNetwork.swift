/// The layers of the model and where their weights live. Built the same way from the same
/// configuration and item count, so a layout is reproducible from a checkpoint's header.
struct SessionNetwork: Sendable {
    let embedding: Embedding
    let propagation: GatedGraphLayer
    let readout: AttentionReadout
    let scorer: ItemScorer
    let propagationSteps: Int

    /// Lays out every parameter; SR-GNN's names in comments.
    static func make(configuration c: ModelConfiguration, itemCount: Int) -> (SessionNetwork, ParameterLayout) {
        let d = c.hiddenSize
        var layout = ParameterLayout()
        let table = layout.add("embedding", rows: itemCount + 1, cols: d)
        func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bool = true) -> Linear {
            Linear(
                weight: layout.add(name + ".weight", rows: inputs, cols: outputs),
                bias: bias ? layout.add(name + ".bias", rows: 1, cols: outputs) : nil)
        }
        let propagation = GatedGraphLayer(
            edgeIn: linear("gnn.edge_in", d, d),  // linear_edge_in
            edgeOut: linear("gnn.edge_out", d, d),  // linear_edge_out
            inputInBias: layout.add("gnn.b_iah", rows: 1, cols: d),
            inputOutBias: layout.add("gnn.b_oah", rows: 1, cols: d),
            gateInput: linear("gnn.gate_input", 2 * d, 3 * d),  // w_ih, b_ih
            gateHidden: linear("gnn.gate_hidden", d, 3 * d))  // w_hh, b_hh
        let readout = AttentionReadout(
            last: linear("attention.last", d, d),  // linear_one
            item: linear("attention.item", d, d),  // linear_two
            query: layout.add("attention.query", rows: 1, cols: d),  // linear_three
            transform: linear("readout.transform", 2 * d, d))  // linear_transform
        let network = SessionNetwork(
            embedding: Embedding(table: table), propagation: propagation, readout: readout,
            scorer: ItemScorer(table: table), propagationSteps: c.propagationSteps)
        return (network, layout)
    }

    /// Everything the backward pass needs.
    struct Pass {
        var propagation: [GatedGraphLayer.Cache] = []
        var readout: AttentionReadout.Cache
        /// The session representations s (B x d).
        var sessions: Matrix
    }

    /// Session representations for a batch.
    func forward(_ batch: SessionBatch, _ p: ParameterAccess) -> Pass {
        var h = embedding(batch.nodeItems, p)
        var caches: [GatedGraphLayer.Cache] = []
        for _ in 0..<propagationSteps {
            let (next, cache) = propagation.forward(h, graph: batch, p)
            caches.append(cache)
            h = next
        }
        let d = h.cols
        var x = Matrix(rows: batch.positionCount, cols: d)
        for (position, node) in batch.positionNode.enumerated() {
            for col in 0..<d { x.storage[position &* d &+ col] = h.storage[Int(node) &* d &+ col] }
        }
        let (s, readoutCache) = readout.forward(x, graph: batch, p)
        return Pass(propagation: caches, readout: readoutCache, sessions: s)
    }

    /// Accumulates every parameter gradient from dL/ds.
    func backward(_ pass: Pass, sessionGradient ds: Matrix, batch: SessionBatch, _ p: ParameterAccess) {
        let dx = readout.backward(pass.readout, outputGradient: ds, graph: batch, p)
        let d = ds.cols
        var dh = Matrix(rows: batch.nodeCount, cols: d)
        for (position, node) in batch.positionNode.enumerated() {
            for col in 0..<d { dh.storage[Int(node) &* d &+ col] += dx.storage[position &* d &+ col] }
        }
        for cache in pass.propagation.reversed() {
            dh = propagation.backward(cache, outputGradient: dh, graph: batch, p)
        }
        embedding.backward(items: batch.nodeItems, outputGradient: dh, p)
    }
}
