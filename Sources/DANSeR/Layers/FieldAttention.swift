internal import Foundation

/// Attention 2 of MODEL.md section 3, across receptive fields:
///   beta_k = softmax over k of  w . tanh(Wr z_k + Ur u_K + br),   s = sum_k beta_k z_k.
/// The K field readouts arrive stacked as one (K B) x d matrix, row k B + b.
struct FieldAttention: Sendable {
    let field: Linear  // Wr, br: d -> d
    let last: Linear  // Ur: d -> d, no bias
    let query: ParameterSlot  // w, 1 x d

    struct Cache {
        var fields: Matrix  // z, (K B) x d
        var lastStates: Matrix  // u_K, B x d
        var activations: Matrix  // tanh(...), (K B) x d
        var weights: [Float]  // beta, K B
    }

    func forward(fields z: Matrix, lastStates u: Matrix, _ p: ParameterAccess) -> (output: Matrix, cache: Cache) {
        let b = u.rows
        let d = u.cols
        let k = z.rows / max(1, b)
        var a = field(z, p)
        let ul = last(u, p)
        let w = p.value(query)
        var energies = [Float](repeating: 0, count: z.rows)
        // The activations in one loop (it vectorizes), then each energy as a dot product.
        a.storage.withUnsafeMutableBufferPointer { ap in
            ul.storage.withUnsafeBufferPointer { ulp in
                for row in 0..<z.rows {
                    let activations = ap.baseAddress! + row &* d
                    let lastRow = ulp.baseAddress! + (row % b) &* d
                    for col in 0..<d { activations[col] = VectorMath.tanh(activations[col] + lastRow[col]) }
                    energies[row] = VectorMath.dot(w, activations, count: d)
                }
            }
        }
        var s = Matrix(rows: b, cols: d)
        for session in 0..<b {
            var shift = -Float.infinity
            for field in 0..<k { shift = max(shift, energies[field * b + session]) }
            var total: Float = 0
            for field in 0..<k {
                let e = Foundation.exp(energies[field * b + session] - shift)
                energies[field * b + session] = e
                total += e
            }
            for field in 0..<k {
                let row = field * b + session
                energies[row] /= total
                for col in 0..<d { s.storage[session &* d &+ col] += energies[row] * z.storage[row &* d &+ col] }
            }
        }
        return (s, Cache(fields: z, lastStates: u, activations: a, weights: energies))
    }

    /// Accumulates parameter gradients; returns dL/dz (stacked like the input) and dL/du_K.
    func backward(_ cache: Cache, outputGradient ds: Matrix, _ p: ParameterAccess) -> (fields: Matrix, lastStates: Matrix) {
        let b = ds.rows
        let d = ds.cols
        let z = cache.fields
        let k = z.rows / max(1, b)
        var dz = Matrix(rows: z.rows, cols: d)
        var dBeta = [Float](repeating: 0, count: z.rows)
        for row in 0..<z.rows {
            let session = row % b
            var dot: Float = 0
            for col in 0..<d {
                let g = ds.storage[session &* d &+ col]
                dot += g * z.storage[row &* d &+ col]
                dz.storage[row &* d &+ col] = cache.weights[row] * g
            }
            dBeta[row] = dot
        }
        var dPre = Matrix(rows: z.rows, cols: d)
        var dul = Matrix(rows: b, cols: d)
        let w = p.value(query)
        let dw = p.gradient(query)
        for session in 0..<b {
            var inner: Float = 0
            for field in 0..<k { inner += cache.weights[field * b + session] * dBeta[field * b + session] }
            for field in 0..<k {
                let row = field * b + session
                let de = cache.weights[row] * (dBeta[row] - inner)
                for col in 0..<d {
                    let i = row &* d &+ col
                    let v = cache.activations.storage[i]
                    dw[col] += de * v
                    let g = de * w[col] * (1 - v * v)
                    dPre.storage[i] = g
                    dul.storage[session &* d &+ col] += g
                }
            }
        }
        let dzFromField = field.backward(input: z, outputGradient: dPre, p)!
        for i in 0..<dz.storage.count { dz.storage[i] += dzFromField.storage[i] }
        let du = last.backward(input: cache.lastStates, outputGradient: dul, p)!
        return (dz, du)
    }
}
