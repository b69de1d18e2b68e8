import Testing

@testable import FeatureStore

@Suite struct EmbeddingBlobTests {
    /// Values shaped like trained embeddings (small, centred) plus the awkward floats.
    static func table(rows: Int, dim: Int) -> [Float] {
        var state: UInt64 = 42
        var values = (0..<(rows * dim)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.2
        }
        let special: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.infinity, .nan, Float(bitPattern: 0x7FC0_1234)]
        for (index, value) in special.enumerated() where index < values.count { values[index] = value }
        return values
    }

    @Test(arguments: EmbeddingCodec.allCases)
    func roundTripIsBitIdentical(codec: EmbeddingCodec) throws {
        let values = Self.table(rows: 1_000, dim: 100)
        let chunks = EmbeddingChunks.encode(values, rows: 1_000, dim: 100, rowsPerChunk: 300, codec: codec)
        #expect(chunks.count == 4)
        let decoded = try EmbeddingChunks.decode(chunks.reversed(), rows: 1_000, dim: 100, name: "model 1")
        #expect(decoded.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func shuffleMakesFloatsCompress() {
        let values = Self.table(rows: 4_096, dim: 100)
        let plain = EmbeddingChunks.encode(values, rows: 4_096, dim: 100, codec: .lz4)[0].count
        let shuffled = EmbeddingChunks.encode(values, rows: 4_096, dim: 100, codec: .shuffleLZ4)[0].count
        #expect(shuffled < plain)
    }

    @Test func aFlippedPayloadByteFailsTheChecksum() throws {
        var blob = EmbeddingChunks.encode(Self.table(rows: 10, dim: 8), rows: 10, dim: 8, codec: .raw)[0]
        blob[EmbeddingBlobHeader.byteCount + 17] ^= 0x01
        #expect {
            _ = try EmbeddingChunks.decode([blob], rows: 10, dim: 8, name: "model 7")
        } throws: { error in
            let error = error as? FeatureStoreError
            return error?.code == .corruptBlob && error?.message.contains("model 7 chunk 0") == true
                && error?.message.contains("checksum") == true
        }
    }

    @Test(arguments: [0, 10, EmbeddingBlobHeader.byteCount + 5])
    func aTruncatedBlobIsNamed(keep: Int) {
        let blob = EmbeddingChunks.encode(Self.table(rows: 50, dim: 8), rows: 50, dim: 8)[0]
        #expect {
            _ = try EmbeddingChunks.decode([Array(blob.prefix(keep))], rows: 50, dim: 8, name: "model 3")
        } throws: { error in
            (error as? FeatureStoreError)?.code == .corruptBlob
        }
    }

    @Test func anotherFormatVersionIsRefused() {
        var blob = EmbeddingChunks.encode(Self.table(rows: 5, dim: 4), rows: 5, dim: 4)[0]
        blob[4] = 9
        #expect {
            _ = try EmbeddingChunks.decode([blob], rows: 5, dim: 4, name: "model 1")
        } throws: { error in
            (error as? FeatureStoreError)?.message.contains("format version 9") == true
        }
    }

    @Test func missingAndDuplicatedChunksAreRefused() {
        let chunks = EmbeddingChunks.encode(Self.table(rows: 20, dim: 4), rows: 20, dim: 4, rowsPerChunk: 8)
        #expect(throws: FeatureStoreError.self) { try EmbeddingChunks.decode(Array(chunks.dropLast()), rows: 20, dim: 4, name: "m") }
        #expect(throws: FeatureStoreError.self) { try EmbeddingChunks.decode(chunks + [chunks[0]], rows: 20, dim: 4, name: "m") }
    }
}
