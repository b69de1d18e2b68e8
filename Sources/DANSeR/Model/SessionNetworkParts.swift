/// The session network over a batch cut into parts of whole sessions that run side by side,
/// one thread each. Sessions never share a node or an edge, so each part is an exact batch of
/// its own; the GNN and attention products are small, and two of them at once keep both cores
/// busy where one threaded product would not.
extension SessionNetwork {
    /// A forward pass by parts.
    struct SplitPass {
        /// The sessions of each part, in batch order.
        var ranges: [Range<Int>]
        var batches: [SessionBatch]
        var passes: [Pass]
        /// s for the whole batch (B x d), the parts' rows in order.
        var sessions: Matrix
    }

    /// Session representations for `batch`, in at most `threads` parts; see `forward(_:_:lookupTable:dropoutMask:)`.
    func forward(
        _ batch: SessionBatch, _ p: ParameterAccess, lookupTable: UnsafePointer<Float>? = nil,
        dropoutMask: [Float]? = nil, threads: Int
    ) -> SplitPass {
        let ranges = batch.split(into: threads)
        guard ranges.count > 1 else {
            let pass = forward(batch, p, lookupTable: lookupTable, dropoutMask: dropoutMask)
            return SplitPass(ranges: ranges, batches: [batch], passes: [pass], sessions: pass.sessions)
        }
        let d = embedding.size
        let batches = ranges.map { batch.sessions($0) }
        let masks: [[Float]?] = ranges.map { range in
            dropoutMask.map { Array($0[(Int(batch.nodeStart[range.lowerBound]) * d)..<(Int(batch.nodeStart[range.upperBound]) * d)]) }
        }
        var passes = [Pass?](repeating: nil, count: ranges.count)
        passes.withUnsafeMutableBufferPointer { out in
            let box = UncheckedBox((out.baseAddress!, p, lookupTable))
            Parallel.forEachRange(count: ranges.count, threads: ranges.count) { parts in
                let (out, p, lookupTable) = box.value
                for part in parts {
                    out[part] = forward(batches[part], p, lookupTable: lookupTable, dropoutMask: masks[part])
                }
            }
        }
        var sessions = Matrix(rows: 0, cols: d)
        for pass in passes {
            sessions.storage += pass!.sessions.storage
            sessions.rows += pass!.sessions.rows
        }
        return SplitPass(ranges: ranges, batches: batches, passes: passes.map { $0! }, sessions: sessions)
    }

    /// The same with H0 looked up in `normalizedTable` (NISER) when there is one, else in the table.
    func forward(
        _ batch: SessionBatch, _ p: ParameterAccess, normalizedTable: ScoringHead.NormalizedTable?,
        dropoutMask: [Float]?, threads: Int
    ) -> SplitPass {
        guard let normalizedTable else { return forward(batch, p, dropoutMask: dropoutMask, threads: threads) }
        return normalizedTable.values.withUnsafeBufferPointer {
            forward(batch, p, lookupTable: $0.baseAddress!, dropoutMask: dropoutMask, threads: threads)
        }
    }

    /// Accumulates the gradient of every weight but the embedding table from dL/ds (B x d) with
    /// the parts side by side: the first part into `p`'s gradients, the others into buffers of
    /// their own, added in part order afterwards (the same result on every run). Returns dL/dH0
    /// of each part; `addLookupGradients` puts them into a table-shaped buffer.
    func initialStateGradients(_ split: SplitPass, sessionGradient ds: Matrix, _ p: ParameterAccess) -> [Matrix] {
        let parts = split.passes.count
        guard parts > 1 else {
            return [initialStateGradient(split.passes[0], sessionGradient: ds, batch: split.batches[0], p)]
        }
        let d = ds.cols
        // Every weight but the table lies in weightsStart..<frozenStart (the table is laid out first).
        let weightsStart = embedding.table.offset + embedding.table.count
        let weightCount = frozenStart - weightsStart
        var scratch = [Float](repeating: 0, count: (parts - 1) * weightCount)
        var results = [Matrix?](repeating: nil, count: parts)
        scratch.withUnsafeMutableBufferPointer { sp in
            results.withUnsafeMutableBufferPointer { out in
                let box = UncheckedBox((out.baseAddress!, sp.baseAddress!, p))
                Parallel.forEachRange(count: parts, threads: parts) { range in
                    let (out, scratch, p) = box.value
                    for part in range {
                        // A part's own gradient buffer, addressed like the full one for the weights it touches.
                        let access = part == 0
                            ? p
                            : ParameterAccess(
                                values: p.values, gradients: scratch + (part - 1) &* weightCount - weightsStart)
                        let rows = split.ranges[part]
                        let partGradient = Matrix(
                            rows: rows.count, cols: d,
                            storage: Array(ds.storage[(rows.lowerBound * d)..<(rows.upperBound * d)]))
                        out[part] = initialStateGradient(
                            split.passes[part], sessionGradient: partGradient, batch: split.batches[part], access)
                    }
                }
            }
        }
        let gradients = p.gradients + weightsStart
        for part in 1..<parts {
            let base = (part - 1) * weightCount
            for i in 0..<weightCount { gradients[i] += scratch[base + i] }
        }
        return results.map { $0! }
    }

    /// Adds each part's dL/dH0 into the table-shaped buffer `table` at its nodes' items.
    func addLookupGradients(_ gradients: [Matrix], _ split: SplitPass, into table: UnsafeMutablePointer<Float>) {
        for (part, dh) in gradients.enumerated() {
            Embedding.scatterAdd(dh, items: split.batches[part].nodeItems, into: table)
        }
    }
}
