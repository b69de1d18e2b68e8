internal import Foundation

/// One gated graph propagation step (MODEL.md section 2, SR-GNN's GNNCell):
///   a_in = M_in (H W_in + b_in) + b_iah,  a_out = M_out (H W_out + b_out) + b_oah,  a = [a_in ; a_out]
///   r = sigmoid(a W_ir + H W_hr + b_r),  z = sigmoid(a W_iz + H W_hz + b_z)
///   c = tanh(a W_ic + b_ic + r * (H W_hc + b_hc)),  H' = (1 - z) * c + z * H
struct GatedGraphLayer: Sendable {
    let edgeIn: Linear  // d -> d
    let edgeOut: Linear  // d -> d
    let inputInBias: ParameterSlot  // b_iah
    let inputOutBias: ParameterSlot  // b_oah
    let gateInput: Linear  // 2d -> 3d, columns [r | z | c]
    let gateHidden: Linear  // d -> 3d

    /// What the backward pass needs from the forward pass.
    struct Cache {
        var hidden: Matrix
        var hiddenProducts: Matrix  // [H W_in + b_in | H W_out + b_out | H W_h + b_h], n x 5d
        var aggregated: Matrix  // a, n x 2d
        var reset: Matrix
        var update: Matrix
        var candidate: Matrix
    }

    func forward(_ h: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> (output: Matrix, cache: Cache) {
        let n = h.rows
        let d = h.cols
        let width = 5 &* d
        let products = hiddenProducts(h, p)
        var a = Matrix(rows: n, cols: 2 * d)
        let bin = p.value(inputInBias)
        let bout = p.value(inputOutBias)
        a.storage.withUnsafeMutableBufferPointer { ap in
            products.storage.withUnsafeBufferPointer { pp in
                for node in 0..<n {
                    let row = ap.baseAddress! + node &* (2 &* d)
                    for col in 0..<d {
                        row[col] = bin[col]
                        row[d &+ col] = bout[col]
                    }
                    for e in Int(graph.inStart[node])..<Int(graph.inStart[node + 1]) {
                        let w = graph.inWeight[e]
                        let src = pp.baseAddress! + Int(graph.inSource[e]) &* width
                        for col in 0..<d { row[col] += w * src[col] }
                    }
                    for e in Int(graph.outStart[node])..<Int(graph.outStart[node + 1]) {
                        let w = graph.outWeight[e]
                        let src = pp.baseAddress! + (Int(graph.outTarget[e]) &* width &+ d)
                        for col in 0..<d { row[d &+ col] += w * src[col] }
                    }
                }
            }
        }
        let gi = gateInput(a, p)
        var r = Matrix(rows: n, cols: d)
        var z = Matrix(rows: n, cols: d)
        var c = Matrix(rows: n, cols: d)
        var out = Matrix(rows: n, cols: d)
        for node in 0..<n {
            for col in 0..<d {
                let gBase = node &* 3 &* d
                let hBase = node &* width &+ 2 &* d
                let rv = VectorMath.sigmoid(gi.storage[gBase &+ col] + products.storage[hBase &+ col])
                let zv = VectorMath.sigmoid(gi.storage[gBase &+ d &+ col] + products.storage[hBase &+ d &+ col])
                let cv = tanh(gi.storage[gBase &+ 2 &* d &+ col] + rv * products.storage[hBase &+ 2 &* d &+ col])
                let i = node &* d &+ col
                r.storage[i] = rv
                z.storage[i] = zv
                c.storage[i] = cv
                out.storage[i] = cv + zv * (h.storage[i] - cv)
            }
        }
        return (
            out,
            Cache(
                hidden: h, hiddenProducts: products, aggregated: a,
                reset: r, update: z, candidate: c)
        )
    }

    /// Accumulates parameter gradients and returns dL/dH.
    func backward(_ cache: Cache, outputGradient dOut: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> Matrix {
        let n = dOut.rows
        let d = dOut.cols
        let width = 5 &* d
        var dgi = Matrix(rows: n, cols: 3 * d)
        var dProducts = Matrix(rows: n, cols: width)  // [dhin | dhout | dgh]
        var dh = Matrix(rows: n, cols: d)
        for node in 0..<n {
            for col in 0..<d {
                let i = node &* d &+ col
                let g = dOut.storage[i]
                let rv = cache.reset.storage[i]
                let zv = cache.update.storage[i]
                let cv = cache.candidate.storage[i]
                let hv = cache.hidden.storage[i]
                dh.storage[i] = g * zv
                let dzPre = g * (hv - cv) * zv * (1 - zv)
                let dcPre = g * (1 - zv) * (1 - cv * cv)
                let gBase = node &* 3 &* d
                let hBase = node &* width &+ 2 &* d
                let hc = cache.hiddenProducts.storage[hBase &+ 2 &* d &+ col]
                let drPre = dcPre * hc * rv * (1 - rv)
                dgi.storage[gBase &+ col] = drPre
                dgi.storage[gBase &+ d &+ col] = dzPre
                dgi.storage[gBase &+ 2 &* d &+ col] = dcPre
                dProducts.storage[hBase &+ col] = drPre
                dProducts.storage[hBase &+ d &+ col] = dzPre
                dProducts.storage[hBase &+ 2 &* d &+ col] = dcPre * rv
            }
        }
        let da = gateInput.backward(input: cache.aggregated, outputGradient: dgi, p)!
        let dbin = p.gradient(inputInBias)
        let dbout = p.gradient(inputOutBias)
        for node in 0..<n {
            let row = node &* 2 &* d
            for col in 0..<d {
                dbin[col] += da.storage[row &+ col]
                dbout[col] += da.storage[row &+ d &+ col]
            }
            for e in Int(graph.inStart[node])..<Int(graph.inStart[node + 1]) {
                let w = graph.inWeight[e]
                let src = Int(graph.inSource[e]) &* width
                for col in 0..<d { dProducts.storage[src &+ col] += w * da.storage[row &+ col] }
            }
            for e in Int(graph.outStart[node])..<Int(graph.outStart[node + 1]) {
                let w = graph.outWeight[e]
                let dst = Int(graph.outTarget[e]) &* width &+ d
                for col in 0..<d { dProducts.storage[dst &+ col] += w * da.storage[row &+ d &+ col] }
            }
        }
        let dhFromProducts = hiddenProductsBackward(input: cache.hidden, outputGradient: dProducts, p)
        for i in 0..<dh.storage.count { dh.storage[i] += dhFromProducts.storage[i] }
        return dh
    }

    // MARK: - The three products of H

    /// The three linear maps that read H (edge in, edge out, the hidden side of the gates) share
    /// their input, so they run as one product against their weights side by side: one larger
    /// sgemm instead of three small ones, forward and backward.
    private var hiddenLinears: [Linear] { [edgeIn, edgeOut, gateHidden] }

    /// [W_in | W_out | W_h] (d x 5d) and [b_in | b_out | b_h], copied side by side.
    private func concatenatedWeights(_ p: ParameterAccess, rows d: Int) -> (weight: [Float], bias: [Float]) {
        let width = 5 &* d
        var weight = [Float](repeating: 0, count: d &* width)
        var bias = [Float](repeating: 0, count: width)
        var start = 0
        for linear in hiddenLinears {
            let out = linear.outputSize
            let w = p.value(linear.weight)
            for row in 0..<d {
                for col in 0..<out { weight[row &* width &+ start &+ col] = w[row &* out &+ col] }
            }
            if let slot = linear.bias {
                let b = p.value(slot)
                for col in 0..<out { bias[start &+ col] = b[col] }
            }
            start += out
        }
        return (weight, bias)
    }

    /// [H W_in + b_in | H W_out + b_out | H W_h + b_h], n x 5d.
    private func hiddenProducts(_ h: Matrix, _ p: ParameterAccess) -> Matrix {
        let d = h.cols
        let width = 5 &* d
        var y = Matrix(rows: h.rows, cols: width)
        guard h.rows > 0 else { return y }
        let (weight, bias) = concatenatedWeights(p, rows: d)
        h.storage.withUnsafeBufferPointer { hp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                for row in 0..<h.rows { (yp.baseAddress! + row &* width).update(from: bias, count: width) }
                weight.withUnsafeBufferPointer { wp in
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: h.rows, n: width, k: d,
                        a: hp.baseAddress!, lda: d, b: wp.baseAddress!, ldb: width,
                        beta: 1, c: yp.baseAddress!, ldc: width)
                }
            }
        }
        return y
    }

    /// Accumulates the three weights' and biases' gradients from dY (n x 5d); returns dH.
    private func hiddenProductsBackward(input h: Matrix, outputGradient dy: Matrix, _ p: ParameterAccess) -> Matrix {
        let n = h.rows
        let d = h.cols
        let width = 5 &* d
        var dh = Matrix(rows: n, cols: d)
        guard n > 0 else { return dh }
        let (weight, _) = concatenatedWeights(p, rows: d)
        var dWeight = [Float](repeating: 0, count: d &* width)
        var dBias = [Float](repeating: 0, count: width)
        h.storage.withUnsafeBufferPointer { hp in
            dy.storage.withUnsafeBufferPointer { dyp in
                dWeight.withUnsafeMutableBufferPointer { dwp in
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: d, n: width, k: n,
                        a: hp.baseAddress!, lda: d, b: dyp.baseAddress!, ldb: width,
                        c: dwp.baseAddress!, ldc: width)
                }
                for row in 0..<n {
                    let r = dyp.baseAddress! + row &* width
                    for col in 0..<width { dBias[col] += r[col] }
                }
                weight.withUnsafeBufferPointer { wp in
                    dh.storage.withUnsafeMutableBufferPointer { dhp in
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: n, n: d, k: width,
                            a: dyp.baseAddress!, lda: width, b: wp.baseAddress!, ldb: width,
                            c: dhp.baseAddress!, ldc: d)
                    }
                }
            }
        }
        var start = 0
        for linear in hiddenLinears {
            let out = linear.outputSize
            let dw = p.gradient(linear.weight)
            for row in 0..<d {
                for col in 0..<out { dw[row &* out &+ col] += dWeight[row &* width &+ start &+ col] }
            }
            if let slot = linear.bias {
                let db = p.gradient(slot)
                for col in 0..<out { db[col] += dBias[start &+ col] }
            }
            start += out
        }
        return dh
    }
}
