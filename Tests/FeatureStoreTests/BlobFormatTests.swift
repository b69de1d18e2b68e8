import Foundation
import Testing

@testable import FeatureStore

/// The embedding blob format as docs/FEATURES.md documents it, checked by an independent
/// decoder: the Python lines of the document (the `lz4` package and the standard library), fed
/// the blobs the store wrote through psql, must rebuild the table bit for bit and refuse a damaged
/// chunk. Skipped, saying so, where no Python with `lz4` is installed.
@Suite struct BlobFormatTests {
    static let rows = 30
    static let dim = 5

    @Test(arguments: EmbeddingCodec.allCases)
    func theDocumentedPythonDecoderReadsStoredBlobs(codec: EmbeddingCodec) throws {
        guard let python = Self.pythonWithLZ4 else {
            print("skipped: no python3 with the lz4 package (apt-get install python3-lz4, or pip install lz4)")
            return
        }
        let database = try ProjectFiles.migratedDatabase()
        let connection = try Connection(database)
        let version = try ModelRegistry().insert(
            parentVersion: nil, mode: .retrain, asOfDay: 20_000, trainedThroughMicros: 0, itemCount: Self.rows - 1, dim: Self.dim,
            hyperparametersJSON: "{}", metricsJSON: "{}", fingerprint: "f", checkpoint: [1], runID: nil, on: connection)
        // Values with repeats, signs, tiny and huge magnitudes; row 0 is padding.
        var table: [Float] = (0..<(Self.rows * Self.dim)).map { index -> Float in
            let magnitude = Float(pow(10.0, Double(index % 9 - 4)))
            return Float(index % 7 - 3) * magnitude + Float(index) / 64
        }
        for column in 0..<Self.dim { table[column] = 0 }
        var features = FeatureRepository()
        features.codec = codec
        features.rowsPerChunk = 7  // several chunks, the last one short
        try features.saveEmbeddings(table, rows: Self.rows, dim: Self.dim, version: version, on: connection)

        let script = try Self.documentedDecoder()
        let output = NSTemporaryDirectory() + "blob-\(UUID().uuidString).f32"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let decoded = try Self.decode(version: version, database: database, python: python, script: script, output: output)
        #expect(decoded.status == 0, "\(decoded.output)")
        let bytes = FileManager.default.contents(atPath: output) ?? Data()
        let expected = table.withUnsafeBytes { Data($0) }
        #expect(bytes == expected, "the Python decoder's \(bytes.count) bytes differ from the stored table's \(expected.count)")

        // A flipped byte in a stored payload is refused, never decoded into wrong numbers.
        try connection.query(
            "UPDATE danser.item_embeddings SET blob = set_byte(blob, 40, get_byte(blob, 40) # 1) WHERE model_version = $1 AND chunk_index = 1",
            [.int64(version)])
        let damaged = try Self.decode(version: version, database: database, python: python, script: script, output: output)
        #expect(damaged.status != 0)
        #expect(damaged.output.contains("checksum mismatch") || damaged.output.contains("LZ4") || damaged.output.contains("ecompress"), "\(damaged.output)")
    }

    // MARK: - Helpers

    /// The ```python block of docs/FEATURES.md.
    static func documentedDecoder() throws -> String {
        let path = URL(fileURLWithPath: ProjectFiles.sqlDirectory).deletingLastPathComponent().appendingPathComponent("docs/FEATURES.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let start = text.range(of: "```python\n"), let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else {
            throw FeatureStoreError(.configuration, "docs/FEATURES.md has no python block")
        }
        let file = NSTemporaryDirectory() + "decode-\(UUID().uuidString).py"
        try String(text[start.upperBound..<end.lowerBound]).write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// psql prints the model's blobs as hex, one per line; the Python decoder writes the table.
    static func decode(version: Int64, database: ConnectionConfiguration, python: String, script: String, output: String) throws -> Subprocess.Result {
        let sql = "SELECT encode(blob, 'hex') FROM danser.item_embeddings WHERE model_version = \(version) ORDER BY chunk_index"
        return try Subprocess.run("/bin/bash", ["-o", "pipefail", "-c", #"psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" | "$3" "$4" "$5""#, "decode",
            database.expandedConninfo(), sql, python, script, output])
    }

    /// The first Python that imports `lz4.block`: the system's (Debian python3-lz4), then the PATH's.
    static let pythonWithLZ4: String? = {
        for candidate in ["/usr/bin/python3", "python3"] {
            if let status = try? Subprocess.run("/usr/bin/env", [candidate, "-c", "import lz4.block"]).status, status == 0 { return candidate }
        }
        return nil
    }()
}
