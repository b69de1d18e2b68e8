internal import CBLAS
internal import Foundation

/// SLIST (Choi et al., "Session-aware Linear Item-Item Models for Session-based Recommendation",
/// 2021): one item x item matrix B in closed form, combining SLIS (a session predicts its own
/// items) and SLIT (the clicks up to t predict the clicks after t). With
/// - X: one row per training session, 1 for each of its items;
/// - S, T: for each session and each split point t, a row of the clicks up to t weighted
///   exp(-(t - k) / positionDecay) and a row of the clicks after t weighted exp(-(k - t - 1) / positionDecay);
/// - W: each session's rows weighted exp(-(end of training - session end) / timeDecayDays) (or 1),
/// it minimises alpha·|W(X - XB)|² + (1 - alpha)·|W(T - SB)|² + lambda·|B|², with diag(B) <= xi:
///   P = (alpha·XᵀWX + (1 - alpha)·SᵀWS + lambda·I)⁻¹ (Cholesky, LAPACK spotrf/spotri),
///   C = -(1 - alpha)·P·SᵀW(S - T),
///   B = I - P·diag(mu) + C, mu_j = lambda, or (1 - xi + C_jj) / P_jj where that would leave B_jj > xi.
/// A prefix scores score = s·B, s_i = exp(-(l - p(i)) / inferenceDecay) at i's last (1-based) click p(i).
///
/// Memory: P and C are two dense M x M float matrices, M the items clicked in training (14.9 GB at
/// 43,097 items). A catalogue whose two matrices exceed `memoryBudgetBytes` is refused
/// (`overMemoryBudget`, naming the gigabytes it needs) rather than cut down: a contender that can
/// never recommend most items would lose for a reason that is not its own.
public struct SLIST: SessionScorer {
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// Weight of SLIS against SLIT (default 0.2, the paper's choice for Diginetica).
        public var alpha: Float = 0.2
        /// L2 regularisation (default 10).
        public var lambda: Float = 10
        /// Position decay of the S and T rows, in clicks (default 1).
        public var positionDecay: Float = 1
        /// Position decay of the prefix at scoring time, in clicks (default 1).
        public var inferenceDecay: Float = 1
        /// Time decay of training sessions, in days (default nil: every session weighs 1).
        public var timeDecayDays: Float?
        /// Largest value allowed on B's diagonal (default 0, as EASE's zero diagonal).
        public var diagonalLimit: Float = 0
        /// Bytes the two M x M matrices may take (default 4 GiB: 23,170 items).
        public var memoryBudgetBytes = 4 << 30

        public init(
            alpha: Float = 0.2, lambda: Float = 10, positionDecay: Float = 1, inferenceDecay: Float = 1,
            timeDecayDays: Float? = nil, diagonalLimit: Float = 0, memoryBudgetBytes: Int = 4 << 30
        ) {
            self.alpha = alpha
            self.lambda = lambda
            self.positionDecay = positionDecay
            self.inferenceDecay = inferenceDecay
            self.timeDecayDays = timeDecayDays
            self.diagonalLimit = diagonalLimit
            self.memoryBudgetBytes = memoryBudgetBytes
        }

        public var description: String {
            "alpha=\(alpha) lambda=\(lambda) position-decay=\(positionDecay) inference-decay=\(inferenceDecay)"
                + (timeDecayDays.map { " time-decay=\($0)d" } ?? "")
        }
    }

    /// The most items whose two M x M float matrices fit in `bytes`.
    public static func itemLimit(memoryBudgetBytes bytes: Int) -> Int {
        Int((Double(max(0, bytes)) / 8).squareRoot())
    }

    public let parameters: Parameters
    public let itemCount: Int
    /// Column of each item in B, or -1 for an item outside the kept set.
    private let columnOf: [Int32]
    /// The item of each column: the items clicked in training.
    public let keptItems: [Int32]
    /// B, M x M row-major: row c holds what item keptItems[c] contributes to each column.
    private let weights: [Float]

    /// Fits B. `endTimes` (microseconds, parallel to `training`) are needed only with a time decay.
    /// Throws when the clicked items' matrices exceed the memory budget, fewer than 2 items were
    /// clicked, or the factorization fails.
    public init(
        training: [Session], endTimes: [Int64]? = nil, itemCount: Int, parameters: Parameters = .init(), threads: Int = 1
    ) throws(DANSeRError) {
        self.parameters = parameters
        self.itemCount = itemCount
        guard parameters.alpha >= 0, parameters.alpha <= 1, parameters.lambda > 0, parameters.positionDecay > 0,
            parameters.inferenceDecay > 0, (parameters.timeDecayDays ?? 1) > 0
        else {
            throw DANSeRError(.invalidConfiguration, "SLIST needs 0 <= alpha <= 1 and positive lambda and decays (got \(parameters))")
        }
        var isClicked = [Bool](repeating: false, count: itemCount + 1)
        for session in training {
            for item in session where item > 0 && Int(item) <= itemCount { isClicked[Int(item)] = true }
        }
        let kept = (1...max(1, itemCount)).map(Int32.init).filter { Int($0) <= itemCount && isClicked[Int($0)] }
        guard kept.count <= Self.itemLimit(memoryBudgetBytes: parameters.memoryBudgetBytes) else {
            let gib = { (bytes: Double) in String(format: "%.1f GiB", bytes / Double(1 << 30)) }
            throw DANSeRError(
                .overMemoryBudget,
                "SLIST's two \(kept.count) x \(kept.count) matrices need \(gib(8 * Double(kept.count) * Double(kept.count))), "
                    + "over its memory budget of \(gib(Double(parameters.memoryBudgetBytes))); raise the budget or leave SLIST out")
        }
        keptItems = kept
        var columnOf = [Int32](repeating: -1, count: itemCount + 1)
        for (column, item) in kept.enumerated() { columnOf[Int(item)] = Int32(column) }
        self.columnOf = columnOf
        let m = kept.count
        guard m >= 2 else {
            throw DANSeRError(.datasetTooSmall, "SLIST needs at least 2 clicked items in training (got \(m))")
        }

        // Gram matrix G = alpha·XᵀWX + (1 - alpha)·SᵀWS + lambda·I, and D = SᵀW(S - T) (sparse, by column).
        var gram = [Float](repeating: 0, count: m * m)
        var product: [Int: Float] = [:]
        let end = endTimes?.max() ?? 0
        let alpha = parameters.alpha
        for (index, session) in training.enumerated() {
            let columns = session.compactMap { item -> Int? in
                item > 0 && Int(item) <= itemCount && columnOf[Int(item)] >= 0 ? Int(columnOf[Int(item)]) : nil
            }
            guard !columns.isEmpty else { continue }
            var rowWeight: Float = 1
            if let days = parameters.timeDecayDays, let endTimes {
                rowWeight = Float(exp(-Double(end - endTimes[index]) / (Double(days) * 86_400_000_000)))
            }
            if alpha > 0 {
                let distinct = Array(Set(columns))
                for a in distinct {
                    for b in distinct { gram[a * m + b] += alpha * rowWeight }
                }
            }
            guard alpha < 1, columns.count >= 2 else { continue }
            for t in 0..<(columns.count - 1) {
                let source = Self.decayedRow(columns[0...t], decay: parameters.positionDecay, fromEnd: true)
                let target = Self.decayedRow(columns[(t + 1)...], decay: parameters.positionDecay, fromEnd: false)
                for (a, sa) in source {
                    for (b, sb) in source { gram[a * m + b] += (1 - alpha) * rowWeight * sa * sb }
                    for (b, sb) in source { product[a * m + b, default: 0] += rowWeight * sa * sb }
                    for (b, tb) in target { product[a * m + b, default: 0] -= rowWeight * sa * tb }
                }
            }
        }
        for column in 0..<m { gram[column * m + column] += parameters.lambda }

        let previousThreads = BLAS.threadCount
        BLAS.setThreadCount(threads)
        defer { BLAS.setThreadCount(previousThreads) }
        try Self.invertInPlace(&gram, size: m, threads: threads)
        let inverse = gram  // P, symmetric

        // Cᵀ row j = -(1 - alpha)·sum over k of D[k, j]·P[k, :]; then Bᵀ row j = e_j - mu_j·P[j, :] + Cᵀ[j, :].
        var byColumn = [[(row: Int32, value: Float)]](repeating: [], count: m)
        for (key, value) in product where value != 0 { byColumn[key % m].append((Int32(key / m), value)) }
        product = [:]
        var matrix = [Float](repeating: 0, count: m * m)
        let blockWidth = 256
        let scale = -(1 - alpha)
        inverse.withUnsafeBufferPointer { pBuffer in
            matrix.withUnsafeMutableBufferPointer { cBuffer in
                let p = UncheckedBox(pBuffer.baseAddress!)
                let c = UncheckedBox(cBuffer.baseAddress!)
                let entries = UncheckedBox(byColumn)
                Parallel.forEachRange(count: m, threads: threads) { rows in
                    for blockStart in stride(from: 0, to: m, by: blockWidth) {
                        let width = min(blockWidth, m - blockStart)
                        for j in rows {
                            let out = c.value + j * m + blockStart
                            for (k, d) in entries.value[j] {
                                let factor = scale * d
                                let source = p.value + Int(k) * m + blockStart
                                for lane in 0..<width { out[lane] += factor * source[lane] }
                            }
                        }
                    }
                }
                let xi = parameters.diagonalLimit
                let lambda = parameters.lambda
                Parallel.forEachRange(count: m, threads: threads) { rows in
                    for j in rows {
                        let pjj = p.value[j * m + j]
                        let cjj = c.value[j * m + j]
                        let mu = 1 - lambda * pjj + cjj > xi ? (1 - xi + cjj) / pjj : lambda
                        let out = c.value + j * m
                        let source = p.value + j * m
                        for lane in 0..<m { out[lane] -= mu * source[lane] }
                        out[j] += 1
                    }
                }
            }
        }
        Self.transposeInPlace(&matrix, size: m)
        weights = matrix
    }

    /// (column, weight) of the clicks in `clicks`, weighted exp(-distance / decay) from the last
    /// click (`fromEnd`) or from the first; an item clicked twice keeps its larger weight.
    private static func decayedRow(_ clicks: ArraySlice<Int>, decay: Float, fromEnd: Bool) -> [(Int, Float)] {
        var row: [(Int, Float)] = []
        for (offset, column) in clicks.enumerated() {
            let distance = fromEnd ? clicks.count - 1 - offset : offset
            let weight = Float(exp(-Double(distance) / Double(decay)))
            if let existing = row.firstIndex(where: { $0.0 == column }) {
                row[existing].1 = max(row[existing].1, weight)
            } else {
                row.append((column, weight))
            }
        }
        return row
    }

    /// Replaces the symmetric positive definite `matrix` by its inverse (both triangles).
    private static func invertInPlace(_ matrix: inout [Float], size: Int, threads: Int) throws(DANSeRError) {
        var n = blasint(size)
        var lda = blasint(size)
        var info: blasint = 0
        // Row-major upper triangle = column-major lower triangle: LAPACK sees the same numbers.
        var uplo = CChar(UInt8(ascii: "L"))
        matrix.withUnsafeMutableBufferPointer { buffer in
            _ = spotrf_(&uplo, &n, buffer.baseAddress!, &lda, &info)
            if info == 0 { _ = spotri_(&uplo, &n, buffer.baseAddress!, &lda, &info) }
        }
        guard info == 0 else {
            throw DANSeRError(
                .invalidConfiguration,
                "SLIST: the regularised Gram matrix could not be inverted (LAPACK info \(info)); raise lambda")
        }
        // Column-major lower = row-major upper (j >= i) holds the inverse: mirror it below.
        matrix.withUnsafeMutableBufferPointer { buffer in
            let base = UncheckedBox(buffer.baseAddress!)
            Parallel.forEachRange(count: size, threads: threads) { rows in
                for i in rows {
                    for j in 0..<i { base.value[i * size + j] = base.value[j * size + i] }
                }
            }
        }
    }

    /// Transposes a square row-major matrix in place, block by block.
    private static func transposeInPlace(_ matrix: inout [Float], size: Int) {
        let block = 64
        matrix.withUnsafeMutableBufferPointer { buffer in
            let a = buffer.baseAddress!
            for rowBlock in stride(from: 0, to: size, by: block) {
                for columnBlock in stride(from: rowBlock, to: size, by: block) {
                    for i in rowBlock..<min(rowBlock + block, size) {
                        let first = max(columnBlock, i + 1)
                        let last = min(columnBlock + block, size)
                        guard first < last else { continue }
                        for j in first..<last {
                            let upper = a[i * size + j]
                            a[i * size + j] = a[j * size + i]
                            a[j * size + i] = upper
                        }
                    }
                }
            }
        }
    }

    public func makeWorkspace() -> [Float] { [Float](repeating: 0, count: keptItems.count) }

    public func score(_ prefix: ArraySlice<Int32>, into scores: inout ItemScores, workspace row: inout [Float]) {
        let valid = prefix.filter { $0 > 0 && Int($0) <= itemCount }
        var used: [(column: Int, weight: Float)] = []
        for (p, item) in valid.enumerated() where columnOf[Int(item)] >= 0 {
            let weight = Float(exp(-Double(valid.count - 1 - p) / Double(parameters.inferenceDecay)))
            let column = Int(columnOf[Int(item)])
            if let existing = used.firstIndex(where: { $0.column == column }) {
                used[existing].weight = max(used[existing].weight, weight)
            } else {
                used.append((column, weight))
            }
        }
        guard !used.isEmpty else { return }
        let m = keptItems.count
        row.withUnsafeMutableBufferPointer { out in
            for lane in 0..<m { out[lane] = 0 }
            weights.withUnsafeBufferPointer { b in
                for (column, weight) in used {
                    let source = b.baseAddress! + column * m
                    for lane in 0..<m { out[lane] += weight * source[lane] }
                }
            }
        }
        for (column, item) in keptItems.enumerated() { scores.add(item, row[column]) }
    }
}
