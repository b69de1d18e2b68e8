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
        let d = size
        let g = p.gradient(table)
        dy.storage.withUnsafeBufferPointer { dp in
            for (row, item) in items.enumerated() {
                let target = g + Int(item) &* d
                let source = dp.baseAddress! + row &* d
                for col in 0..<d { target[col] += source[col] }
            }
        }
    }
}
