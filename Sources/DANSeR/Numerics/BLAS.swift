internal import CBLAS
internal import Foundation

/// Thin row-major wrappers over OpenBLAS, so no other file touches C types.
public enum BLAS {
    /// Sets how many threads OpenBLAS uses for the products that follow.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The BLAS build and the kernel it chose for this CPU, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... (kernel Zen)",
    /// so benchmark figures from different machines are never compared blind.
    public static var buildDescription: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS (unknown build)"
        let core = BLASKernelChoice.detectedCore
        // After a restart past a fallback kernel, say which one OpenBLAS had chosen itself.
        if let detected = ProcessInfo.processInfo.environment[BLASKernelChoice.detectedVariable] {
            return "\(config) (kernel \(core); OpenBLAS detected \(detected))"
        }
        return "\(config) (kernel \(core))"
    }

    /// C = alpha * op(A) * op(B) + beta * C, all row-major.
    /// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the stored row lengths.
    @inline(__always)
    static func gemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched only when beta == 1; keep the maths exact for empty sums.
            if beta != 1 {
                for row in 0..<m {
                    for col in 0..<n { c[row * ldc + col] = beta == 0 ? 0 : beta * c[row * ldc + col] }
                }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// Public entry for benchmarks: a plain product C (m x n) = A (m x k) * B^T (B is n x k).
    public static func benchmarkProduct(
        m: Int, n: Int, k: Int, a: [Float], b: [Float], c: inout [Float]
    ) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(
                        transposeA: false, transposeB: true, m: m, n: n, k: k,
                        a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k,
                        c: cp.baseAddress!, ldc: n)
                }
            }
        }
    }
}
