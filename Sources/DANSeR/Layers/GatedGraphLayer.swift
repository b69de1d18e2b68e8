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
        var edgeInOutput: Matrix
        var edgeOutOutput: Matrix
        var aggregated: Matrix  // a, n x 2d
        var hiddenGates: Matrix  // H W_h + b_h, n x 3d
        var reset: Matrix
        var update: Matrix
        var candidate: Matrix
    }

    func forward(_ h: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> (output: Matrix, cache: Cache) {
        let n = h.rows
        let d = h.cols
        let hin = edgeIn(h, p)
        let hout = edgeOut(h, p)
        var a = Matrix(rows: n, cols: 2 * d)
        let bin = p.value(inputInBias)
        let bout = p.value(inputOutBias)
        a.storage.withUnsafeMutableBufferPointer { ap in
            hin.storage.withUnsafeBufferPointer { hinp in
                hout.storage.withUnsafeBufferPointer { houtp in
                    for node in 0..<n {
                        let row = ap.baseAddress! + node &* (2 &* d)
                        for col in 0..<d {
                            row[col] = bin[col]
                            row[d &+ col] = bout[col]
                        }
                        for e in Int(graph.inStart[node])..<Int(graph.inStart[node + 1]) {
                            let w = graph.inWeight[e]
                            let src = hinp.baseAddress! + Int(graph.inSource[e]) &* d
                            for col in 0..<d { row[col] += w * src[col] }
                        }
                        for e in Int(graph.outStart[node])..<Int(graph.outStart[node + 1]) {
                            let w = graph.outWeight[e]
                            let src = houtp.baseAddress! + Int(graph.outTarget[e]) &* d
                            for col in 0..<d { row[d &+ col] += w * src[col] }
                        }
                    }
                }
            }
        }
        let gi = gateInput(a, p)
        let gh = gateHidden(h, p)
        var r = Matrix(rows: n, cols: d)
        var z = Matrix(rows: n, cols: d)
        var c = Matrix(rows: n, cols: d)
        var out = Matrix(rows: n, cols: d)
        // Pointer loops over a row, activations from VectorMath: the compiler vectorizes them.
        gi.storage.withUnsafeBufferPointer { gip in
            gh.storage.withUnsafeBufferPointer { ghp in
                h.storage.withUnsafeBufferPointer { hp in
                    r.storage.withUnsafeMutableBufferPointer { rp in
                        z.storage.withUnsafeMutableBufferPointer { zp in
                            c.storage.withUnsafeMutableBufferPointer { cp in
                                out.storage.withUnsafeMutableBufferPointer { op in
                                    for node in 0..<n {
                                        let gBase = node &* 3 &* d
                                        let giRow = gip.baseAddress! + gBase
                                        let ghRow = ghp.baseAddress! + gBase
                                        let row = node &* d
                                        for col in 0..<d {
                                            let rv = VectorMath.sigmoid(giRow[col] + ghRow[col])
                                            let zv = VectorMath.sigmoid(giRow[d &+ col] + ghRow[d &+ col])
                                            let cv = VectorMath.tanh(giRow[2 &* d &+ col] + rv * ghRow[2 &* d &+ col])
                                            let i = row &+ col
                                            rp[i] = rv
                                            zp[i] = zv
                                            cp[i] = cv
                                            op[i] = cv + zv * (hp[i] - cv)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (
            out,
            Cache(
                hidden: h, edgeInOutput: hin, edgeOutOutput: hout, aggregated: a, hiddenGates: gh,
                reset: r, update: z, candidate: c)
        )
    }

    /// Accumulates parameter gradients and returns dL/dH.
    func backward(_ cache: Cache, outputGradient dOut: Matrix, graph: SessionBatch, _ p: ParameterAccess) -> Matrix {
        let n = dOut.rows
        let d = dOut.cols
        var dgi = Matrix(rows: n, cols: 3 * d)
        var dgh = Matrix(rows: n, cols: 3 * d)
        var dh = Matrix(rows: n, cols: d)
        // Pointer loops over a row: the compiler vectorizes them.
        dgi.storage.withUnsafeMutableBufferPointer { dgip in
            dgh.storage.withUnsafeMutableBufferPointer { dghp in
                dh.storage.withUnsafeMutableBufferPointer { dhp in
                    dOut.storage.withUnsafeBufferPointer { gp in
                        cache.reset.storage.withUnsafeBufferPointer { rp in
                            cache.update.storage.withUnsafeBufferPointer { zp in
                                cache.candidate.storage.withUnsafeBufferPointer { cp in
                                    cache.hidden.storage.withUnsafeBufferPointer { hp in
                                        cache.hiddenGates.storage.withUnsafeBufferPointer { hgp in
                                            for node in 0..<n {
                                                let gBase = node &* 3 &* d
                                                let dgiRow = dgip.baseAddress! + gBase
                                                let dghRow = dghp.baseAddress! + gBase
                                                let hcRow = hgp.baseAddress! + (gBase &+ 2 &* d)
                                                let row = node &* d
                                                for col in 0..<d {
                                                    let i = row &+ col
                                                    let g = gp[i]
                                                    let rv = rp[i]
                                                    let zv = zp[i]
                                                    let cv = cp[i]
                                                    dhp[i] = g * zv
                                                    let dzPre = g * (hp[i] - cv) * zv * (1 - zv)
                                                    let dcPre = g * (1 - zv) * (1 - cv * cv)
                                                    let drPre = dcPre * hcRow[col] * rv * (1 - rv)
                                                    dgiRow[col] = drPre
                                                    dgiRow[d &+ col] = dzPre
                                                    dgiRow[2 &* d &+ col] = dcPre
                                                    dghRow[col] = drPre
                                                    dghRow[d &+ col] = dzPre
                                                    dghRow[2 &* d &+ col] = dcPre * rv
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let da = gateInput.backward(input: cache.aggregated, outputGradient: dgi, p)!
        let dhFromGates = gateHidden.backward(input: cache.hidden, outputGradient: dgh, p)!
        var dhin = Matrix(rows: n, cols: d)
        var dhout = Matrix(rows: n, cols: d)
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
                let src = Int(graph.inSource[e]) &* d
                for col in 0..<d { dhin.storage[src &+ col] += w * da.storage[row &+ col] }
            }
            for e in Int(graph.outStart[node])..<Int(graph.outStart[node + 1]) {
                let w = graph.outWeight[e]
                let dst = Int(graph.outTarget[e]) &* d
                for col in 0..<d { dhout.storage[dst &+ col] += w * da.storage[row &+ d &+ col] }
            }
        }
        let dhFromIn = edgeIn.backward(input: cache.hidden, outputGradient: dhin, p)!
        let dhFromOut = edgeOut.backward(input: cache.hidden, outputGradient: dhout, p)!
        for i in 0..<dh.storage.count {
            dh.storage[i] += dhFromGates.storage[i] + dhFromIn.storage[i] + dhFromOut.storage[i]
        }
        return dh
    }
}
