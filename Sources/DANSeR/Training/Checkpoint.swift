public import Foundation

/// A versioned binary snapshot of a training run: configuration, item count, finished epochs,
/// seed, every weight and Adam's moments, so training resumes exactly. Layout (little-endian):
///
///     "DANSeRCK"  format version (UInt32)  header length (UInt32)  header (JSON)
///     weights, first moments, second moments (Float32 x count each)  checksum (UInt64)
///
/// The checksum covers every byte before it; any change of the layout bumps the version.
public struct Checkpoint: Sendable {
    public static let formatVersion: UInt32 = 1
    static let magic = Array("DANSeRCK".utf8)

    /// Everything but the numbers, as JSON so a person can read it with `strings`.
    struct Header: Codable, Equatable {
        var configuration: ModelConfiguration
        var itemCount: Int
        var completedEpochs: Int
        var optimizerStep: Int
        var seed: UInt64
        var parameterCount: Int
    }

    public let configuration: ModelConfiguration
    public let itemCount: Int
    public let completedEpochs: Int
    public let seed: UInt64
    let parameters: [Float]
    let optimizer: AdamState

    /// A snapshot of `trainer` after its last finished epoch.
    public init(_ trainer: Trainer) {
        configuration = trainer.model.configuration
        itemCount = trainer.model.itemCount
        completedEpochs = trainer.completedEpochs
        seed = trainer.seed
        parameters = trainer.model.parameters
        optimizer = trainer.optimizer
    }

    /// The bytes to store (a file or a bytea).
    public func encoded() -> Data {
        let header = Header(
            configuration: configuration, itemCount: itemCount, completedEpochs: completedEpochs,
            optimizerStep: optimizer.step, seed: seed, parameterCount: parameters.count)
        let json = (try? JSONEncoder.sorted.encode(header)) ?? Data()
        var data = Data()
        data.reserveCapacity(32 + json.count + parameters.count * 12)
        data.append(contentsOf: Self.magic)
        Self.append(Self.formatVersion, to: &data)
        Self.append(UInt32(json.count), to: &data)
        data.append(json)
        for array in [parameters, optimizer.firstMoment, optimizer.secondMoment] {
            array.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        Self.append(Self.checksum(data), to: &data)
        return data
    }

    /// Reads bytes written by `encoded()`; a damaged buffer or another format version is an error.
    public init(decoding data: Data) throws(DANSeRError) {
        let bytes = [UInt8](data)
        func corrupt(_ why: String) -> DANSeRError {
            DANSeRError(.corruptCheckpoint, "the checkpoint is damaged (\(why)); use another checkpoint or train from scratch")
        }
        guard bytes.count >= 16 + 8, Array(bytes[0..<8]) == Self.magic else {
            throw corrupt("it does not start with a DANSeR checkpoint signature")
        }
        let version = Self.read(UInt32.self, bytes, at: 8)
        guard version == Self.formatVersion else {
            throw DANSeRError(
                .checkpointVersion,
                "the checkpoint has format version \(version) but this program reads version \(Self.formatVersion); "
                    + "use the program version that wrote it, or train from scratch")
        }
        let stored = Self.read(UInt64.self, bytes, at: bytes.count - 8)
        guard stored == Self.checksum(bytes[0..<(bytes.count - 8)]) else {
            throw corrupt("checksum mismatch: truncated or altered")
        }
        let headerLength = Int(Self.read(UInt32.self, bytes, at: 12))
        guard 16 + headerLength <= bytes.count - 8,
            let header = try? JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)]))
        else { throw corrupt("unreadable header") }
        let count = header.parameterCount
        let start = 16 + headerLength
        guard count >= 0, start + count * 12 == bytes.count - 8 else {
            throw corrupt("it holds \(bytes.count - 8 - start) bytes of numbers, expected \(count * 12)")
        }
        func floats(_ index: Int) -> [Float] {
            let offset = start + index * count * 4
            return bytes[offset..<(offset + count * 4)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        configuration = header.configuration
        itemCount = header.itemCount
        completedEpochs = header.completedEpochs
        seed = header.seed
        parameters = floats(0)
        optimizer = AdamState(step: header.optimizerStep, firstMoment: floats(1), secondMoment: floats(2))
    }

    /// A trainer that continues exactly where the snapshot left off. The configuration and item
    /// count must be the ones the caller expects.
    public func makeTrainer(
        expecting configuration: ModelConfiguration, itemCount: Int, threads: Int
    ) throws(DANSeRError) -> Trainer {
        guard configuration == self.configuration else {
            throw DANSeRError(
                .checkpointMismatch,
                "the checkpoint was written with another model configuration; "
                    + "use the same --config and options, or start without the checkpoint")
        }
        guard itemCount == self.itemCount else {
            throw DANSeRError(
                .checkpointMismatch,
                "the checkpoint has \(self.itemCount) items but the data has \(itemCount); "
                    + "use the same input and split, or start without the checkpoint")
        }
        let model = try Model(configuration: configuration, itemCount: itemCount, parameters: parameters)
        return Trainer(model: model, optimizer: optimizer, completedEpochs: completedEpochs, seed: seed, threads: threads)
    }

    /// The weights alone, for inference.
    public func makeModel() throws(DANSeRError) -> Model {
        try Model(configuration: configuration, itemCount: itemCount, parameters: parameters)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<(offset + MemoryLayout<T>.size)]) }
        return T(littleEndian: value)
    }

    /// FNV-1a over 64-bit words (then the tail bytes): fast over 50 MB and catches any flipped bit.
    static func checksum(_ bytes: some Collection<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01B3
        let array = Array(bytes)
        array.withUnsafeBytes { raw in
            let words = raw.count / 8
            for i in 0..<words {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* prime
            }
            for i in (words * 8)..<raw.count { hash = (hash ^ UInt64(raw[i])) &* prime }
        }
        return hash
    }
}

extension JSONEncoder {
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
