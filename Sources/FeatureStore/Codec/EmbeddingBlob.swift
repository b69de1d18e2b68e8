internal import CLZ4
internal import CZlib

/// How an embedding chunk's payload is stored.
public enum EmbeddingCodec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The float32 bytes as they are.
    case raw = 0
    /// LZ4 over the float32 bytes: barely compresses, kept as the baseline.
    case lz4 = 1
    /// Byte-shuffle (all first bytes of every float, then all second bytes, ...) then LZ4: the
    /// sign/exponent bytes line up into long, repetitive runs that LZ4 can compress.
    case shuffleLZ4 = 2

    public var description: String {
        switch self {
        case .raw: return "raw"
        case .lz4: return "lz4"
        case .shuffleLZ4: return "shuffle+lz4"
        }
    }
}

/// The fixed header in front of every embedding chunk, so a blob describes itself.
public struct EmbeddingBlobHeader: Sendable, Equatable {
    /// Current layout version; a blob of another version is refused, never guessed at.
    public static let formatVersion: UInt16 = 1
    public static let byteCount = 32
    static let magic: [UInt8] = Array("DSEB".utf8)
    /// dtype code for float32, the only element type stored today.
    static let float32: UInt8 = 1

    public var codec: EmbeddingCodec
    /// Rows (items) in this chunk and the width of each row.
    public var rows: Int
    public var dim: Int
    /// Index of this chunk's first row in the whole embedding table.
    public var firstRow: Int
    /// Bytes of the payload as stored (after compression).
    public var payloadByteCount: Int
    /// CRC-32 of the decoded float32 bytes: catches corruption anywhere, in the payload or
    /// in the codec.
    public var checksum: UInt32

    var rawByteCount: Int { rows * dim * 4 }
}

/// Encodes and decodes chunks of an embedding table (float32 rows) as self-describing blobs:
/// a 32-byte little-endian header (magic, format version, codec, dtype, rows, dim, first row,
/// payload length, CRC-32 of the raw bytes) followed by the payload. Decoding returns
/// bit-identical floats or a named error.
public enum EmbeddingBlob {
    /// One chunk of `rows` x `dim` floats starting at table row `firstRow`.
    public static func encode(
        _ values: UnsafeBufferPointer<Float>, rows: Int, dim: Int, firstRow: Int, codec: EmbeddingCodec = .shuffleLZ4
    ) -> [UInt8] {
        precondition(values.count == rows * dim, "chunk holds \(values.count) floats, expected \(rows) x \(dim)")
        let raw = UnsafeRawBufferPointer(values)
        let checksum = crc32Of(raw)
        var payload: [UInt8]
        switch codec {
        case .raw:
            payload = Array(raw)
        case .lz4:
            payload = compress(raw)
        case .shuffleLZ4:
            var shuffled = [UInt8](repeating: 0, count: raw.count)
            shuffled.withUnsafeMutableBytes { shuffle(raw, into: $0, elementSize: 4) }
            payload = shuffled.withUnsafeBytes { compress($0) }
        }
        let header = EmbeddingBlobHeader(
            codec: codec, rows: rows, dim: dim, firstRow: firstRow,
            payloadByteCount: payload.count, checksum: checksum)
        var blob = headerBytes(header)
        blob.reserveCapacity(EmbeddingBlobHeader.byteCount + payload.count)
        blob.append(contentsOf: payload)
        return blob
    }

    /// Reads and checks the header alone. `name` says which blob it is in error messages.
    public static func header(of blob: UnsafeRawBufferPointer, name: String) throws -> EmbeddingBlobHeader {
        func corrupt(_ why: String) -> FeatureStoreError {
            FeatureStoreError(.corruptBlob, "embedding blob \(name) is corrupt: \(why)",
                hint: "republish the model's features or roll back to another model version")
        }
        guard blob.count >= EmbeddingBlobHeader.byteCount else { throw corrupt("only \(blob.count) bytes, shorter than its header") }
        guard Array(blob[0..<4]) == EmbeddingBlobHeader.magic else { throw corrupt("not an embedding blob (bad magic)") }
        let version = UInt16(littleEndianBytes: blob, at: 4)
        guard version == EmbeddingBlobHeader.formatVersion else {
            throw corrupt("format version \(version), this program reads version \(EmbeddingBlobHeader.formatVersion)")
        }
        guard let codec = EmbeddingCodec(rawValue: blob[6]) else { throw corrupt("unknown codec \(blob[6])") }
        guard blob[7] == EmbeddingBlobHeader.float32 else { throw corrupt("unknown dtype \(blob[7])") }
        let header = EmbeddingBlobHeader(
            codec: codec,
            rows: Int(UInt32(littleEndianBytes: blob, at: 8)),
            dim: Int(UInt32(littleEndianBytes: blob, at: 12)),
            firstRow: Int(UInt32(littleEndianBytes: blob, at: 16)),
            payloadByteCount: Int(UInt32(littleEndianBytes: blob, at: 20)),
            checksum: UInt32(littleEndianBytes: blob, at: 24))
        let expected = EmbeddingBlobHeader.byteCount + header.payloadByteCount
        guard blob.count == expected else {
            throw corrupt(blob.count < expected ? "truncated: \(blob.count) of \(expected) bytes" : "\(blob.count - expected) bytes past its end")
        }
        return header
    }

    /// Decodes a chunk into `destination`, which must hold exactly rows x dim floats.
    @discardableResult
    public static func decode(
        _ blob: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>, name: String
    ) throws -> EmbeddingBlobHeader {
        let header = try header(of: blob, name: name)
        func corrupt(_ why: String) -> FeatureStoreError {
            FeatureStoreError(.corruptBlob, "embedding blob \(name) is corrupt: \(why)",
                hint: "republish the model's features or roll back to another model version")
        }
        guard destination.count == header.rows * header.dim else {
            throw corrupt("holds \(header.rows) x \(header.dim) floats, the reader expected \(destination.count)")
        }
        let payload = UnsafeRawBufferPointer(rebasing: blob[EmbeddingBlobHeader.byteCount...])
        let output = UnsafeMutableRawBufferPointer(destination)
        switch header.codec {
        case .raw:
            guard payload.count == output.count else { throw corrupt("raw payload of \(payload.count) bytes, expected \(output.count)") }
            output.copyMemory(from: payload)
        case .lz4:
            guard decompress(payload, into: output) else { throw corrupt("LZ4 payload does not decode to \(output.count) bytes") }
        case .shuffleLZ4:
            var shuffled = [UInt8](repeating: 0, count: output.count)
            let ok = shuffled.withUnsafeMutableBytes { decompress(payload, into: $0) }
            guard ok else { throw corrupt("LZ4 payload does not decode to \(output.count) bytes") }
            shuffled.withUnsafeBytes { unshuffle($0, into: output, elementSize: 4) }
        }
        guard crc32Of(UnsafeRawBufferPointer(output)) == header.checksum else { throw corrupt("checksum mismatch") }
        return header
    }

    // MARK: - Pieces

    static func headerBytes(_ header: EmbeddingBlobHeader) -> [UInt8] {
        var bytes = EmbeddingBlobHeader.magic
        bytes.appendLittleEndian(EmbeddingBlobHeader.formatVersion)
        bytes.append(header.codec.rawValue)
        bytes.append(EmbeddingBlobHeader.float32)
        for field in [header.rows, header.dim, header.firstRow, header.payloadByteCount] {
            bytes.appendLittleEndian(UInt32(field))
        }
        bytes.appendLittleEndian(header.checksum)
        bytes.appendLittleEndian(UInt32(0))  // reserved
        return bytes
    }

    static func crc32Of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        var crc: UInt = 0
        var offset = 0
        while offset < bytes.count {  // zlib takes 32-bit lengths
            let length = min(bytes.count - offset, 1 << 30)
            crc = crc32(crc, base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
            offset += length
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(input.count <= Int(LZ4_MAX_INPUT_SIZE), "chunk too large for one LZ4 block; use smaller chunks")
        let bound = Int(LZ4_compressBound(Int32(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            LZ4_compress_default(
                input.baseAddress?.assumingMemoryBound(to: CChar.self), out.baseAddress?.assumingMemoryBound(to: CChar.self),
                Int32(input.count), Int32(bound))
        }
        precondition(written > 0 || input.isEmpty, "LZ4 failed on a buffer within its bound")
        output.removeLast(bound - Int(written))
        return output
    }

    /// True when `input` decodes to exactly `output.count` bytes.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        if output.isEmpty { return input.count <= 1 }
        let read = LZ4_decompress_safe(
            input.baseAddress?.assumingMemoryBound(to: CChar.self), output.baseAddress?.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(output.count))
        return Int(read) == output.count
    }

    /// Byte plane b of the output holds byte b of every element.
    static func shuffle(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, elementSize: Int) {
        let count = input.count / elementSize
        let source = input.bindMemory(to: UInt8.self)
        let target = output.bindMemory(to: UInt8.self)
        for element in 0..<count {
            let base = element &* elementSize
            for byte in 0..<elementSize {
                target[byte &* count &+ element] = source[base &+ byte]
            }
        }
    }

    static func unshuffle(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, elementSize: Int) {
        let count = input.count / elementSize
        let source = input.bindMemory(to: UInt8.self)
        let target = output.bindMemory(to: UInt8.self)
        for byte in 0..<elementSize {
            let plane = byte &* count
            for element in 0..<count {
                target[element &* elementSize &+ byte] = source[plane &+ element]
            }
        }
    }
}

extension FeatureStoreError.Code {
    /// A stored blob (embeddings, checkpoint) failed its header or checksum check.
    public static let corruptBlob = Self("corruptBlob")
}

extension FixedWidthInteger {
    init(littleEndianBytes bytes: UnsafeRawBufferPointer, at offset: Int) {
        var value = Self.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + MemoryLayout<Self>.size)])) }
        self.init(littleEndian: value)
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
