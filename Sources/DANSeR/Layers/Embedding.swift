/// Item embedding lookup; the backward pass scatter-adds into only the rows that were used.
struct Embedding: Sendable {
    /// (N + 1) x d; row 0 is padding.
    let table: ParameterSlot

    var size: Int { table.cols }

    func callAsFunction(_ items: [Int32], _ p: ParameterAccess) -> Matrix {
        let d = size
        var out = Matrix(rows: items.count, cols: d)
        let e = p.value(table)
        out.storage.withUnsafeMutableBufferPointer { op in
            for (row, item) in items.enumerated() {
                (op.baseAddress! + row &* d).update(from: e + Int(item) &* d, count: d)
            }
        }
        return out
    }

    /// Sparse gradient: dE[item] += dOut[row].
    func backward(items: [Int32], outputGradient dy: Matrix, _ p: ParameterAccess) {
        Self.scatterAdd(dy, items: items, into: p.gradient(table))
    }

    /// Adds row `r` of `dy` to row `items[r]` of the table-shaped buffer `target`.
    static func scatterAdd(_ dy: Matrix, items: [Int32], into target: UnsafeMutablePointer<Float>) {
        let d = dy.cols
        dy.storage.withUnsafeBufferPointer { dp in
            for (row, item) in items.enumerated() {
                let out = target + Int(item) &* d
                let source = dp.baseAddress! + row &* d
                for col in 0..<d { out[col] += source[col] }
            }
        }
    }
}
