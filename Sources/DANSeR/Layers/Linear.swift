/// y = x W + b with W stored (in x out), so the forward product is a plain row-major sgemm.
struct Linear: Sendable {
    let weight: ParameterSlot
    let bias: ParameterSlot?

    var inputSize: Int { weight.rows }
    var outputSize: Int { weight.cols }

    func callAsFunction(_ x: Matrix, _ p: ParameterAccess) -> Matrix {
        precondition(x.cols == inputSize)
        var y = Matrix(rows: x.rows, cols: outputSize)
        guard x.rows > 0 else { return y }
        let out = outputSize
        x.storage.withUnsafeBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                if let bias {
                    let b = p.value(bias)
                    for row in 0..<x.rows {
                        (yp.baseAddress! + row &* out).update(from: b, count: out)
                    }
                }
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: x.rows, n: out, k: inputSize,
                    a: xp.baseAddress!, lda: inputSize, b: p.value(weight), ldb: out,
                    beta: bias == nil ? 0 : 1, c: yp.baseAddress!, ldc: out)
            }
        }
        return y
    }

    /// Accumulates dW += x^T dy, db += column sums of dy; returns dx = dy W^T.
    @discardableResult
    func backward(input x: Matrix, outputGradient dy: Matrix, _ p: ParameterAccess, needsInputGradient: Bool = true)
        -> Matrix?
    {
        precondition(dy.rows == x.rows && dy.cols == outputSize)
        let out = outputSize
        guard x.rows > 0 else { return needsInputGradient ? Matrix(rows: 0, cols: inputSize) : nil }
        x.storage.withUnsafeBufferPointer { xp in
            dy.storage.withUnsafeBufferPointer { dyp in
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: inputSize, n: out, k: x.rows,
                    a: xp.baseAddress!, lda: inputSize, b: dyp.baseAddress!, ldb: out,
                    beta: 1, c: p.gradient(weight), ldc: out)
                if let bias {
                    let db = p.gradient(bias)
                    for row in 0..<x.rows {
                        let r = dyp.baseAddress! + row &* out
                        for col in 0..<out { db[col] += r[col] }
                    }
                }
            }
        }
        guard needsInputGradient else { return nil }
        var dx = Matrix(rows: x.rows, cols: inputSize)
        dy.storage.withUnsafeBufferPointer { dyp in
            dx.storage.withUnsafeMutableBufferPointer { dxp in
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: x.rows, n: inputSize, k: out,
                    a: dyp.baseAddress!, lda: out, b: p.value(weight), ldb: out,
                    c: dxp.baseAddress!, ldc: inputSize)
            }
        }
        return dx
    }
}
