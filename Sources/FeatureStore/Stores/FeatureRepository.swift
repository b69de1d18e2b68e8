/// The behaviour-normalization statistics of one model version as the feature store keeps them
/// (the model side computes them; this side only moves numbers).
public struct NormalizationStatisticsRecord: Sendable, Equatable {
    /// Per item 1...N (element 0 is padding and not stored).
    public var clickCounts: [Int64]
    public var logPriors: [Float]
    public var totalClicks: Int64
    public var sessionPriorMean: Double
    public var sessionPriorSD: Double
    public var learnedScalarsJSON: String

    public init(clickCounts: [Int64], logPriors: [Float], totalClicks: Int64, sessionPriorMean: Double, sessionPriorSD: Double, learnedScalarsJSON: String) {
        self.clickCounts = clickCounts
        self.logPriors = logPriors
        self.totalClicks = totalClicks
        self.sessionPriorMean = sessionPriorMean
        self.sessionPriorSD = sessionPriorSD
        self.learnedScalarsJSON = learnedScalarsJSON
    }
}

/// Item embeddings (chunked, compressed, checksummed blobs) and normalization statistics per
/// model version. Writes go in the caller's transaction, so a version's features appear whole.
public struct FeatureRepository: Sendable {
    public var codec: EmbeddingCodec = .shuffleLZ4
    public var rowsPerChunk = EmbeddingChunks.defaultRowsPerChunk

    public init() {}

    /// Stores the embedding table (rows x dim, row 0 = padding) of `version`; returns stored bytes.
    @discardableResult
    public func saveEmbeddings(_ table: [Float], rows: Int, dim: Int, version: Int64, on connection: Connection) throws -> Int {
        let chunks = EmbeddingChunks.encode(table, rows: rows, dim: dim, rowsPerChunk: rowsPerChunk, codec: codec)
        try connection.query("DELETE FROM danser.item_embeddings WHERE model_version = $1", [.int64(version)])
        var bytes = 0
        try connection.copyIn("COPY danser.item_embeddings (model_version, chunk_index, first_row, row_count, dim, codec, dtype, checksum, blob) FROM STDIN (FORMAT binary)") { writer in
            for (index, chunk) in chunks.enumerated() {
                let header = try chunk.withUnsafeBytes { try EmbeddingBlob.header(of: $0, name: "model \(version) chunk \(index)") }
                try writer.beginRow(fieldCount: 9)
                writer.appendInt64(version)
                writer.appendInt32(Int32(index))
                writer.appendInt32(Int32(header.firstRow))
                writer.appendInt32(Int32(header.rows))
                writer.appendInt32(Int32(dim))
                writer.appendText(codec.description)
                writer.appendText("float32")
                writer.appendInt64(Int64(header.checksum))
                chunk.withUnsafeBufferPointer { writer.appendBytes($0) }
                bytes += chunk.count
            }
        }
        return bytes
    }

    /// Reads `version`'s embedding table back, bit-identical; a corrupt, truncated or missing
    /// chunk is a named error.
    public func loadEmbeddings(version: Int64, rows: Int, dim: Int, on connection: Connection) throws -> [Float] {
        var chunks: [[UInt8]] = []
        try connection.copyOut("COPY (SELECT blob FROM danser.item_embeddings WHERE model_version = \(version) ORDER BY chunk_index) TO STDOUT (FORMAT binary)") { row in
            guard let bytes = row.bytes(0) else { throw FeatureStoreError(.corruptBlob, "model \(version) has an empty embedding chunk") }
            chunks.append(Array(bytes))
        }
        guard !chunks.isEmpty else {
            throw FeatureStoreError(.queryFailed, "model \(version) has no stored embeddings", hint: "republish its features or use another model")
        }
        return try EmbeddingChunks.decode(chunks, rows: rows, dim: dim, name: "model \(version)")
    }

    /// SHA-256 (hex) of the statistics' numbers in a fixed little-endian layout: totals, item
    /// count, prior mean and SD, then each item's click count and log prior. The learned scalars
    /// are left out (jsonb re-renders them; they are also in the checkpoint, which has its own).
    public static func checksum(of statistics: NormalizationStatisticsRecord) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + statistics.clickCounts.count * 12)
        func add<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        add(statistics.totalClicks)
        add(Int64(statistics.clickCounts.count - 1))
        add(statistics.sessionPriorMean.bitPattern)
        add(statistics.sessionPriorSD.bitPattern)
        for item in statistics.clickCounts.indices.dropFirst() {
            add(statistics.clickCounts[item])
            add(statistics.logPriors[item].bitPattern)
        }
        return SHA256.hex(SHA256.hash(bytes))
    }

    public func saveStatistics(_ statistics: NormalizationStatisticsRecord, version: Int64, on connection: Connection) throws {
        try connection.query("DELETE FROM danser.item_statistics WHERE model_version = $1", [.int64(version)])
        try connection.query("""
            INSERT INTO danser.normalization_stats (model_version, total_clicks, item_count, session_prior_mean, session_prior_sd, learned_scalars, checksum)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (model_version) DO UPDATE SET total_clicks = EXCLUDED.total_clicks, item_count = EXCLUDED.item_count,
                session_prior_mean = EXCLUDED.session_prior_mean, session_prior_sd = EXCLUDED.session_prior_sd,
                learned_scalars = EXCLUDED.learned_scalars, checksum = EXCLUDED.checksum
            """,
            [.int64(version), .int64(statistics.totalClicks), .int32(Int32(statistics.clickCounts.count - 1)),
             .float8(statistics.sessionPriorMean), .float8(statistics.sessionPriorSD), .jsonb(statistics.learnedScalarsJSON),
             .text(Self.checksum(of: statistics))])
        try connection.copyIn("COPY danser.item_statistics (model_version, item_index, click_count, log_prior) FROM STDIN (FORMAT binary)") { writer in
            for item in statistics.clickCounts.indices.dropFirst() {
                try writer.beginRow(fieldCount: 4)
                writer.appendInt64(version)
                writer.appendInt32(Int32(item))
                writer.appendInt64(statistics.clickCounts[item])
                writer.appendFloat(statistics.logPriors[item])
            }
        }
    }

    /// Reads `version`'s statistics back and checks them against their stored checksum; a
    /// mismatch is a `corruptBlob` error. (Rows stored before migration 0008 have none.)
    public func loadStatistics(version: Int64, on connection: Connection) throws -> NormalizationStatisticsRecord? {
        let global = try connection.query(
            "SELECT total_clicks, item_count, session_prior_mean, session_prior_sd, learned_scalars, checksum FROM danser.normalization_stats WHERE model_version = $1",
            [.int64(version)])
        guard global.rowCount == 1 else { return nil }
        let itemCount = try global.int(0, 1)
        var counts = [Int64](repeating: 0, count: itemCount + 1)
        var priors = [Float](repeating: 0, count: itemCount + 1)
        try connection.copyOut("COPY (SELECT item_index, click_count, log_prior FROM danser.item_statistics WHERE model_version = \(version)) TO STDOUT (FORMAT binary)") { row in
            guard let index = row.int64(0).map(Int.init), index >= 1, index <= itemCount else {
                throw FeatureStoreError(.decodingFailed, "item statistics of model \(version) name an item outside 1...\(itemCount)")
            }
            guard let count = row.int64(1), let prior = row.double(2) else {
                throw FeatureStoreError(.decodingFailed, "item statistics of model \(version) lack the click count or prior of item \(index)")
            }
            counts[index] = count
            priors[index] = Float(prior)
        }
        let record = NormalizationStatisticsRecord(
            clickCounts: counts, logPriors: priors, totalClicks: try global.int64(0, 0),
            sessionPriorMean: try global.double(0, 2), sessionPriorSD: try global.double(0, 3), learnedScalarsJSON: try global.text(0, 4))
        if let stored = try global.optionalText(0, 5), stored != Self.checksum(of: record) {
            throw FeatureStoreError(.corruptBlob, "the normalization statistics of model \(version) are corrupt: checksum mismatch",
                hint: "republish the model's features or roll back to another model version")
        }
        return record
    }

    /// Reads back everything of `version` that scoring and BI use (embeddings, statistics) and
    /// checks every checksum; throws `corruptBlob` naming the first bad part.
    public func verify(version: Int64, rows: Int, dim: Int, on connection: Connection) throws {
        _ = try loadEmbeddings(version: version, rows: rows, dim: dim, on: connection)
        _ = try loadStatistics(version: version, on: connection)
    }
}
