/// Splits a whole embedding table (rows x dim float32, row-major) into fixed-size blob chunks and
/// joins them back, checking that the chunks cover the table exactly once.
public enum EmbeddingChunks {
    /// Rows per chunk by default: 4,096 rows of d = 100 is 1.6 MB raw, well inside one LZ4 block
    /// and small enough to stream chunk by chunk.
    public static let defaultRowsPerChunk = 4_096

    public static func encode(
        _ table: [Float], rows: Int, dim: Int, rowsPerChunk: Int = defaultRowsPerChunk, codec: EmbeddingCodec = .shuffleLZ4
    ) -> [[UInt8]] {
        precondition(table.count == rows * dim && rowsPerChunk > 0)
        return table.withUnsafeBufferPointer { values in
            stride(from: 0, to: rows, by: rowsPerChunk).map { firstRow in
                let count = min(rowsPerChunk, rows - firstRow)
                let slice = UnsafeBufferPointer(rebasing: values[(firstRow * dim)..<((firstRow + count) * dim)])
                return EmbeddingBlob.encode(slice, rows: count, dim: dim, firstRow: firstRow, codec: codec)
            }
        }
    }

    /// Rebuilds the table; `name` (e.g. "model 12") prefixes every error. Chunks may come in any order.
    public static func decode(_ chunks: [[UInt8]], rows: Int, dim: Int, name: String) throws -> [Float] {
        var table = [Float](repeating: 0, count: rows * dim)
        var covered = 0
        var seenFirstRows = Set<Int>()
        try table.withUnsafeMutableBufferPointer { output in
            for (index, chunk) in chunks.enumerated() {
                let chunkName = "\(name) chunk \(index)"
                try chunk.withUnsafeBytes { blob in
                    let header = try EmbeddingBlob.header(of: blob, name: chunkName)
                    guard header.dim == dim, header.firstRow + header.rows <= rows, seenFirstRows.insert(header.firstRow).inserted else {
                        throw FeatureStoreError(.corruptBlob,
                            "embedding blob \(chunkName) does not fit the table: rows \(header.firstRow)..<\(header.firstRow + header.rows) of width \(header.dim), table is \(rows) x \(dim) or the rows repeat")
                    }
                    let target = UnsafeMutableBufferPointer(rebasing: output[(header.firstRow * dim)..<((header.firstRow + header.rows) * dim)])
                    try EmbeddingBlob.decode(blob, into: target, name: chunkName)
                    covered += header.rows
                }
            }
        }
        guard covered == rows else {
            throw FeatureStoreError(.corruptBlob, "embeddings of \(name) are incomplete: the chunks hold \(covered) of \(rows) rows")
        }
        return table
    }
}
