import ArgumentParser

/// `--shard i/N`: this process scores the sessions whose id hashes to shard i of N (0-based).
/// The hash is FNV-1a over the id's UTF-8 bytes: stable across processes, machines and versions.
struct ShardSpec: Hashable, Sendable, CustomStringConvertible, ExpressibleByArgument {
    let index: Int
    let count: Int

    static let whole = ShardSpec(index: 0, count: 1)

    init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, count <= 4096, (0..<count).contains(index) else {
            return nil
        }
        self.init(index: index, count: count)
    }

    var description: String { "\(index)/\(count)" }

    func contains(sessionID: String) -> Bool {
        count == 1 || Int(Self.hash(sessionID) % UInt64(count)) == index
    }

    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
