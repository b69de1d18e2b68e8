/// SGNN-HN's highway connection between the initial and the last node states:
///   g = sigmoid([H0 ; H_K] W_g + b_g)  (2d -> d),   H = g * H0 + (1 - g) * H_K,
/// read in place of H_K (MODEL.md section 10's highway lever; off in both presets).
struct HighwayGate: Sendable {
    let gate: Linear  // W_g, b_g: 2d -> d

    struct Cache {
        var concatenated: Matrix  // [H0 ; H_K], n x 2d
        var gates: Matrix  // g, n x d
    }

    func forward(initial h0: Matrix, last hk: Matrix, _ p: ParameterAccess) -> (output: Matrix, cache: Cache) {
        let d = h0.cols
        var cat = Matrix(rows: h0.rows, cols: 2 * d)
        for row in 0..<h0.rows {
            for col in 0..<d {
                cat.storage[row &* 2 &* d &+ col] = h0.storage[row &* d &+ col]
                cat.storage[row &* 2 &* d &+ d &+ col] = hk.storage[row &* d &+ col]
            }
        }
        var g = gate(cat, p)
        var out = Matrix(rows: h0.rows, cols: d)
        for i in 0..<g.storage.count {
            let v = VectorMath.sigmoid(g.storage[i])
            g.storage[i] = v
            out.storage[i] = v * h0.storage[i] + (1 - v) * hk.storage[i]
        }
        return (out, Cache(concatenated: cat, gates: g))
    }

    /// Accumulates W_g's and b_g's gradients; returns dL/dH0 and dL/dH_K.
    func backward(_ cache: Cache, outputGradient dy: Matrix, _ p: ParameterAccess) -> (initial: Matrix, last: Matrix) {
        let d = dy.cols
        let n = dy.rows
        var dh0 = Matrix(rows: n, cols: d)
        var dhk = Matrix(rows: n, cols: d)
        var dPre = Matrix(rows: n, cols: d)
        for row in 0..<n {
            for col in 0..<d {
                let i = row &* d &+ col
                let v = cache.gates.storage[i]
                let h0 = cache.concatenated.storage[row &* 2 &* d &+ col]
                let hk = cache.concatenated.storage[row &* 2 &* d &+ d &+ col]
                let g = dy.storage[i]
                dh0.storage[i] = v * g
                dhk.storage[i] = (1 - v) * g
                dPre.storage[i] = g * (h0 - hk) * v * (1 - v)
            }
        }
        let dcat = gate.backward(input: cache.concatenated, outputGradient: dPre, p)!
        for row in 0..<n {
            for col in 0..<d {
                dh0.storage[row &* d &+ col] += dcat.storage[row &* 2 &* d &+ col]
                dhk.storage[row &* d &+ col] += dcat.storage[row &* 2 &* d &+ d &+ col]
            }
        }
        return (dh0, dhk)
    }
}
