/// Approximate top-K for large catalogues. Every score of the model except the repeat term is
/// one inner product in d + 1 dimensions:
///   l'_j = q_s . v_j,  q_s = (s~, b0 + b1 tau_s),  v_j = (E~_j, pi_j)
/// where s~ is s (or sigma * s / |s| under NISER) and E~_j is E_j (or E_j / |E_j|), and the last
/// coordinates are 0 without behaviour normalization. An inverted-file index over v finds the
/// best candidates with their exact scores; the session's own items, the only ones the repeat
/// term rho log(1 + r_j(s)) changes, are scored exactly and added. So every published score is
/// the model's exact score, and only the search can miss an item (measured as recall@K).
public struct ApproximateTopK: Sendable {
    public let index: InnerProductIndex
    /// Cells scanned per query: more is slower and closer to exact.
    public var probes: Int
    /// v_j for j = 1...N, row j - 1, d + 1 floats each.
    let itemVectors: [Float]

    /// Builds the index over `model`'s items. `lists` defaults to about sqrt(N) (k-means cost grows with it).
    public init(model: Model, lists: Int? = nil, probes: Int = 32, threads: Int = 1) throws(DANSeRError) {
        let vectors = model.retrievalItemVectors(table: model.scoringTable(threads: threads))
        let cells = lists ?? max(1, Int(Double(model.itemCount).squareRoot().rounded()))
        index = try InnerProductIndex(
            vectors: vectors, count: model.itemCount, dimension: model.configuration.hiddenSize + 1, lists: cells,
            threads: threads)
        itemVectors = vectors
        self.probes = probes
    }

    /// The top `k` for each session of `batch` (sessions of known items only), best first, ties to
    /// the smaller item id, as the exact path orders them.
    func select(
        _ batch: SessionBatch, sessions: [Session], model: Model, table: ScoringHead.NormalizedTable?, k: Int,
        excludeSeen: Bool
    ) throws(DANSeRError) -> [[Recommendation]] {
        let width = index.dimension
        let (queries, repeats, repeatWeight) = model.retrievalQueries(batch, table: table)
        // Room for the session's own items when they are excluded.
        let longest = sessions.map { Set($0).count }.max() ?? 0
        let wanted = k + (excludeSeen ? longest : 0)
        var found = try index.search(queries, queryCount: sessions.count, k: wanted, probes: probes)
        // Where the probed cells held too few items, scan every cell: a session always gets its k.
        let short = found.indices.filter { found[$0].count < min(wanted, model.itemCount) }
        if !short.isEmpty {
            let shortQueries = short.flatMap { queries[($0 * width)..<(($0 + 1) * width)] }
            let again = try index.search(shortQueries, queryCount: short.count, k: wanted, probes: index.lists)
            for (row, hits) in zip(short, again) { found[row] = hits }
        }
        return sessions.indices.map { row in
            var candidates: [Int32: Float] = [:]
            for hit in found[row] { candidates[Int32(hit.id + 1)] = hit.score }
            queries.withUnsafeBufferPointer { qp in
                itemVectors.withUnsafeBufferPointer { vp in
                    for (column, value) in repeats[row] {
                        let base = VectorMath.dot(qp.baseAddress! + row * width, vp.baseAddress! + column * width, count: width)
                        candidates[Int32(column + 1)] = base + repeatWeight * value
                    }
                }
            }
            if excludeSeen { for item in sessions[row] { candidates[item] = nil } }
            return candidates.filter { !$0.value.isNaN }
                .sorted { ($0.value, -$0.key) > ($1.value, -$1.key) }
                .prefix(k)
                .map { Recommendation(item: $0.key, score: $0.value) }
        }
    }
}

extension Model {
    /// v_j = (E~_j, pi_j) for j = 1...N, row j - 1 (see `ApproximateTopK`).
    func retrievalItemVectors(table: ScoringHead.NormalizedTable?) -> [Float] {
        let d = configuration.hiddenSize
        let head = network.head
        return withParameterAccess { p in
            let embeddings = table.map { t in t.values.withUnsafeBufferPointer { Array($0) } }
            let raw = p.value(head.scorer.table)
            let priors = head.behaviour.map { p.value($0.logPriors) }
            var vectors = [Float](repeating: 0, count: itemCount * (d + 1))
            for item in 1...itemCount {
                let out = (item - 1) * (d + 1)
                for col in 0..<d { vectors[out + col] = embeddings?[item * d + col] ?? raw[item * d + col] }
                vectors[out + d] = priors?[item] ?? 0
            }
            return vectors
        }
    }

    /// q_s = (s~, b0 + b1 tau_s) per session of `batch` (row-major, d + 1 floats each), each
    /// session's repeat terms (column j - 1, log(1 + r_j(s))), and rho (0 when the term is off).
    func retrievalQueries(
        _ batch: SessionBatch, table: ScoringHead.NormalizedTable?
    ) -> (queries: [Float], repeats: [[(column: Int, value: Float)]], repeatWeight: Float) {
        let d = configuration.hiddenSize
        let head = network.head
        return withParameterAccess { p in
            let pass = table.map { t in
                t.values.withUnsafeBufferPointer { network.forward(batch, p, lookupTable: $0.baseAddress!) }
            } ?? network.forward(batch, p)
            let (scored, _) = head.scoredSessions(pass.sessions)
            let (tastes, repeats) = head.behaviourTerms(batch, p)
            let scalars = head.behaviour.map { Array(UnsafeBufferPointer(start: p.value($0.scalars), count: 3)) } ?? [0, 0, 0]
            var queries = [Float](repeating: 0, count: scored.rows * (d + 1))
            for row in 0..<scored.rows {
                for col in 0..<d { queries[row * (d + 1) + col] = scored.storage[row * d + col] }
                queries[row * (d + 1) + d] = head.behaviour == nil ? 0 : scalars[0] + scalars[1] * tastes[row]
            }
            let usesRepeats = head.behaviour?.usesRepeatTerm ?? false
            return (queries, repeats, usesRepeats ? scalars[2] : 0)
        }
    }
}
