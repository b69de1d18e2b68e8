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
    /// Threads for the per-row selection (the sgemm uses BLAS's own threads).
    public var threads = 1

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
        let maxLength = model.configuration.maxSessionLength
        var logits = [Float](repeating: 0, count: max(1, batchSize) * n)
        let table = model.scoringTable(threads: threads)
        var lower = 0
        while lower < sessions.count {
            let upper = min(sessions.count, lower + max(1, batchSize))
            let known = sessions[lower..<upper].map { session in
                session.filter { $0 > 0 && Int($0) <= n }.suffix(maxLength)
            }
            let scorable = known.indices.filter { !known[$0].isEmpty }
            var results = [[Recommendation]](repeating: [], count: upper - lower)
            if !scorable.isEmpty {
                let batch = SessionBatch(prefixes: scorable.map { known[$0] }, targets: [Int32](repeating: 0, count: scorable.count))
                logits.withUnsafeMutableBufferPointer { buffer in
                    model.scores(batch, table: table, into: buffer.baseAddress!, threads: threads)
                    let logitBox = UncheckedBox(UnsafePointer(buffer.baseAddress!))
                    var selected = [[Recommendation]](repeating: [], count: scorable.count)
                    selected.withUnsafeMutableBufferPointer { selectedBuffer in
                        let out = UncheckedBox(selectedBuffer.baseAddress!)
                        Parallel.forEachRange(count: scorable.count, threads: threads) { range in
                            var top: [(index: Int32, score: Float)] = []
                            top.reserveCapacity(k + 1)
                            for row in range {
                                // Score column j holds item j + 1.
                                let excluded = excludeSeen ? Set(known[scorable[row]].map { $0 - 1 }) : []
                                TopK.select(logitBox.value + row * n, count: n, k: k, excluded: excluded, into: &top)
                                out.value[row] = top.map { Recommendation(item: $0.index + 1, score: $0.score) }
                            }
                        }
                    }
                    for (row, index) in scorable.enumerated() { results[index] = selected[row] }
                }
            }
            try body(lower, results)
            lower = upper
        }
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
    private func withParameterAccess<R>(_ body: (ParameterAccess) -> R) -> R {
        parameters.withUnsafeBufferPointer { values in
            let pointer = UnsafeMutablePointer(mutating: values.baseAddress!)
            return body(ParameterAccess(values: pointer, gradients: pointer))
        }
    }
}
