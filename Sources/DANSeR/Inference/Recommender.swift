/// One recommended item for a session: dense item id and the model's score.
public struct Recommendation: Sendable, Equatable {
    public var item: Int32
    public var score: Float

    public init(item: Int32, score: Float) {
        self.item = item
        self.score = score
    }
}

/// Precomputes the top-K next items for many sessions with one model, batch by batch, handing
/// each batch's results to the caller so memory stays bounded whatever the number of sessions.
public struct Recommender: Sendable {
    public let model: Model
    public var batchSize = 100
    /// Batches scored side by side, one thread each (BLAS runs single-threaded inside).
    public var threads = 1
    /// Set for large catalogues: candidates from an inverted-file index instead of scoring every
    /// item (see `ApproximateTopK`); nil scores every item exactly.
    public var approximate: ApproximateTopK?

    public init(model: Model) { self.model = model }

    /// Calls `body(firstIndex, results)` for consecutive batches of `sessions`; `results[i]` belongs
    /// to `sessions[firstIndex + i]`. Clicks on items the model does not know (ids above its item
    /// count, or 0) are left out; a session with no known click gets an empty list. With
    /// `excludeSeen`, items already in the session are never recommended.
    public func topK(
        _ sessions: [Session], k: Int, excludeSeen: Bool = false,
        _ body: (_ firstIndex: Int, _ results: [[Recommendation]]) throws -> Void
    ) rethrows {
        let n = model.itemCount
        let size = max(1, batchSize)
        let lanes = max(1, threads)
        let table = model.scoringTable(threads: threads)
        // One score buffer per lane: memory stays bounded whatever the number of sessions. The
        // approximate path never scores every item, so it needs none.
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: approximate == nil ? lanes * size * n : 1)
        defer { logits.deallocate() }
        var lower = 0
        while lower < sessions.count {
            // Up to `lanes` batches side by side, each on one thread from session forward pass to
            // top-K, so the (serial) forward pass of one batch never idles the other core.
            let starts = Array(stride(from: lower, to: min(sessions.count, lower + lanes * size), by: size))
            var outputs = [[[Recommendation]]](repeating: [], count: starts.count)
            outputs.withUnsafeMutableBufferPointer { outputBuffer in
                let box = UncheckedBox((outputBuffer.baseAddress!, logits, table))
                Parallel.forEachRange(count: starts.count, threads: lanes) { range in
                    let (out, logits, table) = box.value
                    for lane in range {
                        let batch = sessions[starts[lane]..<min(sessions.count, starts[lane] + size)]
                        out[lane] = scoreBatch(
                            batch, k: k, excludeSeen: excludeSeen, table: table,
                            logits: approximate == nil ? logits + lane * size * n : logits)
                    }
                }
            }
            for (lane, start) in starts.enumerated() { try body(start, outputs[lane]) }
            lower = min(sessions.count, lower + lanes * size)
        }
    }

    /// The top `k` of every session of one batch, on the calling thread.
    private func scoreBatch(
        _ sessions: ArraySlice<Session>, k: Int, excludeSeen: Bool, table: ScoringHead.NormalizedTable?,
        logits: UnsafeMutablePointer<Float>
    ) -> [[Recommendation]] {
        let n = model.itemCount
        let maxLength = model.configuration.maxSessionLength
        let known = sessions.map { session in session.filter { $0 > 0 && Int($0) <= n }.suffix(maxLength) }
        let scorable = known.indices.filter { !known[$0].isEmpty }
        var results = [[Recommendation]](repeating: [], count: known.count)
        guard !scorable.isEmpty else { return results }
        let batch = SessionBatch(prefixes: scorable.map { known[$0] }, targets: [Int32](repeating: 0, count: scorable.count))
        if let approximate {
            // The index was built from this model; a search failure here is a bug, not bad input.
            let found = try! approximate.select(
                batch, sessions: scorable.map { Array(known[$0]) }, model: model, table: table, k: k, excludeSeen: excludeSeen)
            for (row, index) in scorable.enumerated() { results[index] = found[row] }
            return results
        }
        model.scores(batch, table: table, into: logits, threads: 1)
        var top: [(index: Int32, score: Float)] = []
        top.reserveCapacity(k + 1)
        for (row, index) in scorable.enumerated() {
            // Score column j holds item j + 1.
            let excluded = excludeSeen ? Set(known[index].map { $0 - 1 }) : []
            TopK.select(logits + row * n, count: n, k: k, excluded: excluded, into: &top)
            results[index] = top.map { Recommendation(item: $0.index + 1, score: $0.score) }
        }
        return results
    }
}

extension Model {
    /// What scoring needs beyond the weights, computed once per pass over many batches: under
    /// NISER the row-normalized embedding table (nil otherwise).
    func scoringTable(threads: Int = 1) -> ScoringHead.NormalizedTable? {
        withParameterAccess { network.head.normalizedTable($0, threads: threads) }
    }

    /// Scores of every item (column j = item j + 1) for every session of `batch`, with every
    /// switch of the scoring (normalization, behaviour adjustment): the same path evaluation
    /// ranks with, so what is published is what was measured. `table` is `scoringTable()`.
    func scores(
        _ batch: SessionBatch, table: ScoringHead.NormalizedTable?, into logits: UnsafeMutablePointer<Float>,
        threads: Int = 1
    ) {
        withParameterAccess { access in
            let pass = table.map { t in
                t.values.withUnsafeBufferPointer { network.forward(batch, access, lookupTable: $0.baseAddress!) }
            } ?? network.forward(batch, access)
            _ = network.head.forward(pass.sessions, batch: batch, access, table: table, into: logits, threads: threads)
        }
    }

    /// Read-only access to the parameters (the forward pass never writes them).
    func withParameterAccess<R>(_ body: (ParameterAccess) -> R) -> R {
        parameters.withUnsafeBufferPointer { values in
            let pointer = UnsafeMutablePointer(mutating: values.baseAddress!)
            return body(ParameterAccess(values: pointer, gradients: pointer))
        }
    }
}
