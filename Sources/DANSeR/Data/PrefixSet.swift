/// Training or test examples by prefix augmentation (SR-GNN): a session [v1..vT] gives
/// ([v1..vt], v(t+1)) for t = 1..T-1. Stored as references into the sessions, not copies.
public struct PrefixSet: Sendable {
    /// The sessions, each of 2+ clicks.
    public let sessions: [Session]
    /// Example i is the first `lengths[i]` clicks of `sessions[sessionIndex[i]]`; the target is the next click.
    public let sessionIndex: [Int32]
    public let lengths: [Int32]

    public init(sessions: [Session]) {
        self.sessions = sessions
        var sessionIndex: [Int32] = []
        var lengths: [Int32] = []
        let total = sessions.reduce(0) { $0 + max(0, $1.count - 1) }
        sessionIndex.reserveCapacity(total)
        lengths.reserveCapacity(total)
        for (index, session) in sessions.enumerated() where session.count >= 2 {
            // Longest prefix first, as the published preprocessing lists them.
            for length in stride(from: session.count - 1, through: 1, by: -1) {
                sessionIndex.append(Int32(index))
                lengths.append(Int32(length))
            }
        }
        self.sessionIndex = sessionIndex
        self.lengths = lengths
    }

    public var count: Int { lengths.count }

    /// The clicks of example `i`.
    public func prefix(_ i: Int) -> ArraySlice<Int32> {
        sessions[Int(sessionIndex[i])][0..<Int(lengths[i])]
    }

    /// The next item of example `i`.
    public func target(_ i: Int) -> Int32 {
        sessions[Int(sessionIndex[i])][Int(lengths[i])]
    }
}
