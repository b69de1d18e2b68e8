internal import Foundation

/// SR-GNN's soft-attention readout (MODEL.md section 3, attention 1):
///   u = X[last],  e_t = q . sigmoid(W1 u + b1 + W2 X_t + b2),  g = sum_t alpha_t X_t,
///   s = W3 [g ; u] + b3,
/// with alpha = e (SR-GNN, `softmax` false) or alpha = the session's masked softmax of e (DANSeR).
/// With `positions` (reversed position embeddings, GCE-GNN / SGNN-HN) the energies read
/// W2 (X_t + P[T - t]) instead, P's row 0 being the last click; g still sums X_t.
struct AttentionReadout: Sendable {
    let last: Linear  // W1, d -> d
    let item: Linear  // W2, d -> d
    let query: ParameterSlot  // q, 1 x d
    let transform: Linear  // W3, 2d -> d
    var softmax = false
    /// P, maxLength x d; nil: no position embeddings.
    var positions: ParameterSlot? = nil

    struct Cache {
        var positions: Matrix  // X, P x d
        var lastStates: Matrix  // u, B x d
        var gates: Matrix  // sigmoid(...), P x d
        var weights: [Float]  // alpha, P
        var concatenated: Matrix  // [g ; u], B x 2d
        var keys: Matrix?  // X + P, P x d (with positions only)
    }

    /// X_t + P[T - t] for every position (the row of P counts back from the session's last click).
    private func keys(_ x: Matrix, graph: SessionBatch, positions: ParameterSlot, _ p: ParameterAccess) -> Matrix {
        let d = x.cols
        let table = p.value(positions)
        var keys = x
        for s in 0..<graph.count {
            let last = graph.lastPosition(s)
            for position in Int(graph.positionStart[s])..<(last + 1) {
                let row = table + min(last - position, positions.rows - 1) &* d
                for col in 0..<d { keys.storage[position &* d &+ col] += row[col] }
            }
        }
        return keys
    }

    func forward(_ x: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> (output: Matrix, cache: Cache) {
        let d = x.cols
        let b = graph.count
        var u = Matrix(rows: b, cols: d)
        for s in 0..<b {
            let src = graph.lastPosition(s) * d
            for col in 0..<d { u.storage[s &* d &+ col] = x.storage[src &+ col] }
        }
        let q1 = last(u, p)
        let keys = positions.map { self.keys(x, graph: graph, positions: $0, p) }
        var gates = item(keys ?? x, p)
        let q = p.value(query)
        var weights = [Float](repeating: 0, count: x.rows)
        var cat = Matrix(rows: b, cols: 2 * d)
        // The activations in one loop (it vectorizes), then each energy as a dot product.
        gates.storage.withUnsafeMutableBufferPointer { gp in
            q1.storage.withUnsafeBufferPointer { q1p in
                for position in 0..<x.rows {
                    let row = gp.baseAddress! + position &* d
                    let lastRow = q1p.baseAddress! + Int(graph.positionSession[position]) &* d
                    for col in 0..<d { row[col] = VectorMath.sigmoid(row[col] + lastRow[col]) }
                    weights[position] = VectorMath.dot(q, row, count: d)
                }
            }
        }
        if softmax {
            for s in 0..<b {
                let range = Int(graph.positionStart[s])..<Int(graph.positionStart[s + 1])
                let shift = weights[range].max() ?? 0
                var total: Float = 0
                for position in range {
                    weights[position] = Foundation.exp(weights[position] - shift)
                    total += weights[position]
                }
                for position in range { weights[position] /= total }
            }
        }
        for position in 0..<x.rows {
            let s = Int(graph.positionSession[position])
            let alpha = weights[position]
            for col in 0..<d { cat.storage[s &* 2 &* d &+ col] += alpha * x.storage[position &* d &+ col] }
        }
        for s in 0..<b {
            for col in 0..<d { cat.storage[s &* 2 &* d &+ d &+ col] = u.storage[s &* d &+ col] }
        }
        let out = transform(cat, p)
        return (out, Cache(positions: x, lastStates: u, gates: gates, weights: weights, concatenated: cat, keys: keys))
    }

    /// Accumulates parameter gradients and returns dL/dX.
    func backward(_ cache: Cache, outputGradient ds: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> Matrix {
        let d = ds.cols
        let b = graph.count
        let x = cache.positions
        let dcat = transform.backward(input: cache.concatenated, outputGradient: ds, p)!
        var dx = Matrix(rows: x.rows, cols: d)
        var du = Matrix(rows: b, cols: d)
        for s in 0..<b {
            for col in 0..<d { du.storage[s &* d &+ col] = dcat.storage[s &* 2 &* d &+ d &+ col] }
        }
        let q = p.value(query)
        let dq = p.gradient(query)
        var dPre = Matrix(rows: x.rows, cols: d)
        var dq1 = Matrix(rows: b, cols: d)
        var dWeights = [Float](repeating: 0, count: x.rows)
        for position in 0..<x.rows {
            let s = Int(graph.positionSession[position])
            let alpha = cache.weights[position]
            var dAlpha: Float = 0
            for col in 0..<d {
                let dg = dcat.storage[s &* 2 &* d &+ col]
                dAlpha += dg * x.storage[position &* d &+ col]
                dx.storage[position &* d &+ col] = alpha * dg
            }
            dWeights[position] = dAlpha
        }
        if softmax {
            // d e_t = alpha_t (d alpha_t - sum_t' alpha_t' d alpha_t') within each session.
            for s in 0..<b {
                let range = Int(graph.positionStart[s])..<Int(graph.positionStart[s + 1])
                var inner: Float = 0
                for position in range { inner += cache.weights[position] * dWeights[position] }
                for position in range { dWeights[position] = cache.weights[position] * (dWeights[position] - inner) }
            }
        }
        for position in 0..<x.rows {
            let s = Int(graph.positionSession[position])
            let dAlpha = dWeights[position]
            for col in 0..<d {
                let i = position &* d &+ col
                let v = cache.gates.storage[i]
                dq[col] += dAlpha * v
                let g = dAlpha * q[col] * v * (1 - v)
                dPre.storage[i] = g
                dq1.storage[s &* d &+ col] += g
            }
        }
        let dxFromItem = item.backward(input: cache.keys ?? x, outputGradient: dPre, p)!
        if let positions {
            let dp = p.gradient(positions)
            for s in 0..<b {
                let last = graph.lastPosition(s)
                for position in Int(graph.positionStart[s])..<(last + 1) {
                    let row = dp + min(last - position, positions.rows - 1) &* d
                    for col in 0..<d { row[col] += dxFromItem.storage[position &* d &+ col] }
                }
            }
        }
        let duFromLast = last.backward(input: cache.lastStates, outputGradient: dq1, p)!
        for i in 0..<dx.storage.count { dx.storage[i] += dxFromItem.storage[i] }
        for s in 0..<b {
            let dst = graph.lastPosition(s) * d
            for col in 0..<d {
                dx.storage[dst &+ col] += du.storage[s &* d &+ col] + duFromLast.storage[s &* d &+ col]
            }
        }
        return dx
    }
}
