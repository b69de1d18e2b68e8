internal import Foundation

/// Scores of every item for every session with DANSeR's switches (MODEL.md sections 4 and 5):
///   l_j  = s . E_j                                   (SR-GNN), or
///   l_j  = sigma * cos(s, E_j)                       (`normalizes`, NISER), then
///   l'_j = l_j + (b0 + b1 tau_s) pi_j + rho log(1 + r_j(s))   (`behaviour`).
/// The same code scores for training, evaluation and publication.
struct ScoringHead: Sendable {
    /// Where the behaviour normalization keeps its numbers.
    struct Behaviour: Sendable {
        /// b0, b1, rho: learned, starting at 0.
        let scalars: ParameterSlot
        /// pi_j for rows 0...N (row 0 unused): statistics, not trained.
        let logPriors: ParameterSlot
        /// mu and sd of the session-mean log prior: statistics, not trained. sd 0 means unset.
        let sessionPrior: ParameterSlot
        /// Off for the "no repeat term" ablation: rho stays 0 and gets no gradient.
        let usesRepeatTerm: Bool
    }

    let scorer: ItemScorer
    let normalizes: Bool
    let scale: Float
    let behaviour: Behaviour?

    /// The plain SR-GNN dot product: the fused training step applies.
    var isPlain: Bool { !normalizes && behaviour == nil }

    /// E with every row scaled to unit length (row 0, padding, stays 0), and the row norms.
    struct NormalizedTable {
        var values: [Float]
        var norms: [Float]

        /// Runs `body` with raw access to the rows, to write them.
        mutating func withMutableRows<R>(hidden: Int, _ body: (NormalizedRows) -> R) -> R {
            values.withUnsafeMutableBufferPointer { vp in
                norms.withUnsafeMutableBufferPointer { np in
                    body(NormalizedRows(values: vp.baseAddress!, norms: np.baseAddress!, hidden: hidden))
                }
            }
        }

        /// Runs `body` with raw access to the rows, only to read them (no copy is made).
        func withRows<R>(hidden: Int, _ body: (NormalizedRows) -> R) -> R {
            values.withUnsafeBufferPointer { vp in
                norms.withUnsafeBufferPointer { np in
                    body(NormalizedRows(
                        values: UnsafeMutablePointer(mutating: vp.baseAddress!),
                        norms: UnsafeMutablePointer(mutating: np.baseAddress!), hidden: hidden))
                }
            }
        }
    }

    /// The normalized table under NISER, else nil.
    func normalizedTable(_ p: ParameterAccess, threads: Int = 1) -> NormalizedTable? {
        guard normalizes else { return nil }
        var table = NormalizedTable(
            values: [Float](repeating: 0, count: scorer.table.count), norms: [Float](repeating: 1, count: scorer.table.rows))
        normalize(p, into: &table, threads: threads)
        return table
    }

    /// Writes the normalized rows of the current embedding table into `table` (of the table's shape).
    func normalize(_ p: ParameterAccess, into table: inout NormalizedTable, threads: Int = 1) {
        let rows = scorer.table.rows
        let e = UncheckedBox(UnsafePointer(p.value(scorer.table)))
        table.withMutableRows(hidden: scorer.table.cols) { view in
            Parallel.forEachRange(count: rows - 1, threads: threads) { range in
                view.normalize(rows: (range.lowerBound + 1)..<(range.upperBound + 1), of: e.value)
            }
        }
    }

    /// Raw access to a normalized table's rows, for the kernels shared by the reference pass
    /// and the fused training step.
    struct NormalizedRows: @unchecked Sendable {
        let values: UnsafeMutablePointer<Float>
        let norms: UnsafeMutablePointer<Float>
        let hidden: Int

        /// e^_r = E_r / |E_r| and |E_r| for table rows `rows`, from the table `e`.
        func normalize(rows: Range<Int>, of e: UnsafePointer<Float>) {
            let d = hidden
            for row in rows {
                let source = e + row &* d
                let total = VectorMath.dot(source, source, count: d)
                let norm = max(total.squareRoot(), 1e-12)
                norms[row] = norm
                let inverse = 1 / norm
                let out = values + row &* d
                for col in 0..<d { out[col] = source[col] * inverse }
            }
        }

        /// dE_r = (dE^_r - e^_r (e^_r . dE^_r)) / |E_r| in place, for table rows `rows` of the
        /// table-shaped gradient `gradient`, with e^_r = E_r / |E_r| taken from the table `e`
        /// these rows were normalized from (so the normalized rows need not be read again).
        func tangentGradient(rows: Range<Int>, gradient: UnsafeMutablePointer<Float>, table e: UnsafePointer<Float>) {
            for row in rows {
                tangent(row: row, e: e, eScale: 1 / norms[row], from: gradient, into: gradient, adding: false)
            }
        }

        /// The same from `gradient` into `out` (added to what `out` holds when `adding`), with
        /// the normalized rows read from this table.
        func tangentGradient(
            rows: Range<Int>, from gradient: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, adding: Bool
        ) {
            for row in rows {
                tangent(row: row, e: values, eScale: 1, from: gradient, into: out, adding: adding)
            }
        }

        /// One row: e^ = e[row] * eScale.
        @inline(__always)
        private func tangent(
            row: Int, e: UnsafePointer<Float>, eScale: Float, from gradient: UnsafePointer<Float>,
            into out: UnsafeMutablePointer<Float>, adding: Bool
        ) {
            let d = hidden
            let base = row &* d
            let unit = e + base
            let g = gradient + base
            // e^ . g = eScale (e . g): one vectorized dot product instead of a serial sum.
            let inner = eScale * VectorMath.dot(unit, g, count: d)
            let inverse = 1 / norms[row]
            let target = out + base
            for col in 0..<d {
                let value = inverse * (g[col] - (unit[col] * eScale) * inner)
                target[col] = adding ? target[col] + value : value
            }
        }
    }

    /// What the backward pass needs.
    struct Cache {
        /// The vectors actually multiplied with the table: s, or sigma * s / |s|.
        var scored: Matrix
        var sessionNorms: [Float]
        /// tau_s per session.
        var tastes: [Float]
        /// Per session: (column j - 1, log(1 + r_j(s))) for each distinct item of the session.
        var repeats: [[(column: Int, value: Float)]]
    }

    /// Writes l' (B x N, column j - 1 = item j) for session representations `s`. Without
    /// `addsBehaviour` it writes l alone, and the caller adds the behaviour terms row by row
    /// (`addBehaviour(row:into:_:_:)`) in its own pass over the rows.
    func forward(
        _ s: Matrix, batch: SessionBatch, _ p: ParameterAccess, table: NormalizedTable?,
        into logits: UnsafeMutablePointer<Float>, threads: Int = 1, addsBehaviour: Bool = true
    ) -> Cache {
        let b = s.rows
        let n = scorer.itemCount
        let (scored, sessionNorms) = scoredSessions(s)
        if let table {
            table.values.withUnsafeBufferPointer { tp in
                let pointer = UnsafeMutablePointer(mutating: tp.baseAddress!)
                let access = ParameterAccess(values: pointer, gradients: pointer)
                normalizedScorer.scores(scored, access, into: logits, threads: threads)
            }
        } else {
            scorer.scores(scored, p, into: logits, threads: threads)
        }
        let (tastes, repeats) = behaviourTerms(batch, p)
        let cache = Cache(scored: scored, sessionNorms: sessionNorms, tastes: tastes, repeats: repeats)
        if behaviour != nil, addsBehaviour {
            let box = UncheckedBox((logits, p))
            Parallel.forEachRange(count: b, threads: threads) { range in
                for row in range { addBehaviour(row: row, into: box.value.0 + row &* n, cache, box.value.1) }
            }
        }
        return cache
    }

    /// Adds the behaviour terms of row `row` to its scores `out` (N floats); nothing without them.
    @inline(__always)
    func addBehaviour(row: Int, into out: UnsafeMutablePointer<Float>, _ cache: Cache, _ p: ParameterAccess) {
        guard let behaviour else { return }
        let n = scorer.itemCount
        let scalars = p.value(behaviour.scalars)
        let priors = p.value(behaviour.logPriors) + 1
        let weight = scalars[0] + scalars[1] * cache.tastes[row]
        for j in 0..<n { out[j] += weight * priors[j] }
        for (column, value) in cache.repeats[row] { out[column] += scalars[2] * value }
    }

    /// `addBehaviour` for a row whose scores go on to the softmax: adds the terms and returns the
    /// row's largest score in the same pass (the softmax's shift), so the row is read once, not
    /// twice. Without behaviour terms it is the maximum alone.
    @inline(__always)
    func addBehaviourReturningMaximum(
        row: Int, into out: UnsafeMutablePointer<Float>, _ cache: Cache, _ p: ParameterAccess
    ) -> Float {
        let n = scorer.itemCount
        guard let behaviour else { return VectorMath.maximum(out, count: n) }
        let scalars = p.value(behaviour.scalars)
        var best = VectorMath.addScaledReturningMaximum(
            out, p.value(behaviour.logPriors) + 1, by: scalars[0] + scalars[1] * cache.tastes[row], count: n)
        for (column, value) in cache.repeats[row] {
            out[column] += scalars[2] * value
            best = max(best, out[column])
        }
        return best
    }

    /// sum_j g_j pi_j for one row's score gradient `g` (N floats), the popularity factor of
    /// the behaviour scalars' gradient; 0 without behaviour normalization.
    @inline(__always)
    func popularity(ofGradient g: UnsafePointer<Float>, _ p: ParameterAccess) -> Float {
        guard let weights = popularityWeights(p) else { return 0 }
        return VectorMath.dot(g, weights, count: scorer.itemCount)
    }

    /// pi_j (N floats), the weights of the popularity factor; nil without behaviour normalization.
    @inline(__always)
    func popularityWeights(_ p: ParameterAccess) -> UnsafePointer<Float>? {
        behaviour.map { UnsafePointer(p.value($0.logPriors) + 1) }
    }

    /// The vectors multiplied with the table: s, or under NISER sigma * s / |s|; and |s| per row.
    func scoredSessions(_ s: Matrix) -> (scored: Matrix, norms: [Float]) {
        let d = s.cols
        var scored = s
        var norms = [Float](repeating: 1, count: s.rows)
        guard normalizes else { return (scored, norms) }
        for row in 0..<s.rows {
            var total: Float = 0
            for col in 0..<d { total += s.storage[row &* d &+ col] * s.storage[row &* d &+ col] }
            let norm = max(total.squareRoot(), 1e-12)
            norms[row] = norm
            for col in 0..<d { scored.storage[row &* d &+ col] *= scale / norm }
        }
        return (scored, norms)
    }

    /// Per session of `batch`: tau_s, and (column j - 1, log(1 + r_j(s))) for each distinct item when
    /// the repeat term is on. Zeros and empty lists without behaviour normalization.
    func behaviourTerms(_ batch: SessionBatch, _ p: ParameterAccess) -> (tastes: [Float], repeats: [[(column: Int, value: Float)]]) {
        let b = batch.positionStart.count - 1
        var tastes = [Float](repeating: 0, count: b)
        var repeats = [[(column: Int, value: Float)]](repeating: [], count: b)
        guard let behaviour else { return (tastes, repeats) }
        let priors = p.value(behaviour.logPriors)
        let mu = p.value(behaviour.sessionPrior)[0]
        let sd = p.value(behaviour.sessionPrior)[1]
        for row in 0..<b {
            let range = Int(batch.positionStart[row])..<Int(batch.positionStart[row + 1])
            var counts: [Int32: Int] = [:]
            var sum: Float = 0
            for position in range {
                let item = batch.nodeItems[Int(batch.positionNode[position])]
                counts[item, default: 0] += 1
                sum += priors[Int(item)]
            }
            // Unset statistics (sd 0) leave the popularity term at b0 * pi_j.
            tastes[row] = sd > 0 ? (sum / Float(max(1, range.count)) - mu) / sd : 0
            if behaviour.usesRepeatTerm {
                repeats[row] = counts.keys.sorted().map { (Int($0) - 1, log(1 + Float(counts[$0]!))) }
            }
        }
        return (tastes, repeats)
    }

    /// From dL/dl' (B x N): accumulates the behaviour scalars' gradients and dL/dE (into the
    /// embedding gradient, or under NISER into `tableGradient`, an (N + 1) x d buffer for the
    /// normalized table, see `normalizationBackward`); returns dL/ds for the raw s.
    /// `sessionGradientOnly` leaves dL/dE to the caller (the fused step computes it block by
    /// block with the Adam update, from dL/dl' and `cache.scored`).
    /// `popularities` (sum_j dl_bj pi_j per row), when the caller has them from its own pass
    /// over the rows, saves that pass here.
    func backward(
        _ cache: Cache, logitGradient dl: UnsafePointer<Float>, _ p: ParameterAccess, table: NormalizedTable?,
        tableGradient: UnsafeMutablePointer<Float>?, sessionGradientOnly: Bool = false, threads: Int = 1,
        popularities known: [Float]? = nil
    ) -> Matrix {
        let d = cache.scored.cols
        let b = cache.scored.rows
        let n = scorer.itemCount
        if let behaviour {
            let grad = p.gradient(behaviour.scalars)
            // sum_j dl_bj pi_j per row, rows in parallel, summed in row order afterwards.
            var popularities = known ?? [Float](repeating: 0, count: b)
            if known == nil {
                popularities.withUnsafeMutableBufferPointer { out in
                    let box = UncheckedBox((out.baseAddress!, dl, p))
                    Parallel.forEachRange(count: b, threads: threads) { range in
                        for row in range { box.value.0[row] = popularity(ofGradient: box.value.1 + row &* n, box.value.2) }
                    }
                }
            }
            for row in 0..<b {
                let g = dl + row &* n
                let popularity = popularities[row]
                grad[0] += popularity
                grad[1] += cache.tastes[row] * popularity
                for (column, value) in cache.repeats[row] { grad[2] += g[column] * value }
            }
        }
        let dScored: Matrix
        if sessionGradientOnly {
            dScored = withTable(table, p) { e in
                ItemScorer.sessionGradient(logitGradient: dl, rows: b, table: e, itemCount: n, hidden: d, threads: threads)
            }
        } else if let table, let tableGradient {
            dScored = table.values.withUnsafeBufferPointer { tp in
                let access = ParameterAccess(values: UnsafeMutablePointer(mutating: tp.baseAddress!), gradients: tableGradient)
                return normalizedScorer.backward(
                    sessions: cache.scored, logitGradient: dl, access, accumulate: true, threads: threads)
            }
        } else {
            dScored = scorer.backward(sessions: cache.scored, logitGradient: dl, p, accumulate: true, threads: threads)
        }
        return sessionGradient(scoredGradient: dScored, scored: cache.scored, sessionNorms: cache.sessionNorms)
    }

    /// dL/ds for the raw s from dL/d(scored), the gradient w.r.t. the vectors multiplied with
    /// the table (`scoredSessions`): the same without NISER.
    func sessionGradient(scoredGradient: Matrix, scored: Matrix, sessionNorms: [Float]) -> Matrix {
        var dScored = scoredGradient
        guard normalizes else { return dScored }
        let d = scored.cols
        // scored = sigma * s / |s|:  ds = sigma / |s| * (dScored - s^ (s^ . dScored)), s^ = scored / sigma.
        for row in 0..<scored.rows {
            var inner: Float = 0
            for col in 0..<d { inner += scored.storage[row &* d &+ col] * dScored.storage[row &* d &+ col] }
            inner /= scale * scale
            let factor = scale / sessionNorms[row]
            for col in 0..<d {
                let i = row &* d &+ col
                dScored.storage[i] = factor * (dScored.storage[i] - scored.storage[i] * inner)
            }
        }
        return dScored
    }

    /// Adds dL/dE to the embedding gradient from dL/dE^ (`tableGradient`, every row used):
    /// dE_j = (dE^_j - e^_j (e^_j . dE^_j)) / |E_j|.
    func normalizationBackward(
        table: NormalizedTable, tableGradient: UnsafePointer<Float>, _ p: ParameterAccess, threads: Int = 1
    ) {
        let rows = scorer.table.rows
        let out = UncheckedBox((tableGradient, p.gradient(scorer.table)))
        table.withRows(hidden: scorer.table.cols) { view in
            Parallel.forEachRange(count: rows - 1, threads: threads) { range in
                view.tangentGradient(
                    rows: (range.lowerBound + 1)..<(range.upperBound + 1), from: out.value.0, into: out.value.1,
                    adding: true)
            }
        }
    }

    /// Runs `body` with the table the scores use: the normalized one, else the embedding.
    private func withTable<R>(_ table: NormalizedTable?, _ p: ParameterAccess, _ body: (UnsafePointer<Float>) -> R) -> R {
        guard let table else { return body(p.value(scorer.table)) }
        return table.values.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// A scorer over a table-shaped buffer at offset 0 (the normalized table).
    private var normalizedScorer: ItemScorer {
        ItemScorer(table: ParameterSlot(name: "normalized", offset: 0, rows: scorer.table.rows, cols: scorer.table.cols))
    }
}
