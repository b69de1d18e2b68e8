import DANSeR

/// The bound on a night's training work (`--max-training-sessions`): past it, a night trains on
/// its most recent sessions only, so an epoch's cost stops growing with the sessions of the
/// history window. See docs/SCALING.md, "A bound on training work".
struct TrainingSessionCap: Sendable, Equatable {
    /// Most training sessions a night keeps (default `defaultLimit`).
    var limit: Int

    /// Well above a Diginetica-sized shop (about 186,000 training sessions), which it leaves alone.
    static let defaultLimit = 1_000_000

    /// Positions of the `limit` most recent sessions by end time, in their order. Of sessions
    /// that end at the same time, the later in the list counts as the more recent (the split lists
    /// sessions in time order, ties in the order of the log), so a rerun keeps the same ones.
    func keptPositions(endTimes: [Int64]) -> [Int] {
        guard endTimes.count > limit else { return Array(endTimes.indices) }
        if endTimes.indices.dropFirst().allSatisfy({ endTimes[$0 - 1] <= endTimes[$0] }) {
            return Array((endTimes.count - limit)..<endTimes.count)
        }
        return endTimes.indices.sorted { (endTimes[$0], $0) > (endTimes[$1], $1) }.prefix(limit).sorted()
    }

    /// Keeps the `limit` most recent of `sessions`, with their `endTimes` (parallel to them), in
    /// their order. Returns how many there were when some were dropped, else nil.
    func apply(to sessions: inout [Session], endTimes: inout [Int64]) -> Int? {
        precondition(sessions.count == endTimes.count, "one end time per training session")
        guard sessions.count > limit else { return nil }
        let before = sessions.count
        let kept = keptPositions(endTimes: endTimes)
        sessions = kept.map { sessions[$0] }
        endTimes = kept.map { endTimes[$0] }
        return before
    }
}
