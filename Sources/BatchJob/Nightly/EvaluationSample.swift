import DANSeR

/// The bound on a night's evaluation work (`--max-evaluation-sessions`): past it, the held-out
/// evaluation sessions, and the validation sessions, are each read on an evenly spread sample
/// of that many. Exact evaluation ranks every item for every prefix, so at a million items it
/// would cost more than training. See docs/SCALING.md, "A bound on evaluation work".
struct EvaluationSample: Sendable, Equatable {
    /// Most sessions an evaluation reads (default `defaultLimit`).
    var limit: Int

    /// Above the evaluation day of a shop of a million sessions a month (about 33,000), which it
    /// leaves alone; a sample this size puts P@20 within about 0.2 points of the whole day's.
    static let defaultLimit = 50_000

    /// Positions of the sample among `count` sessions in time order: every (count / limit)-th,
    /// from the first, so the sample spans the whole period and a rerun reads the same sessions.
    func positions(count: Int) -> [Int] {
        guard count > limit else { return Array(0..<count) }
        return (0..<limit).map { $0 * count / limit }
    }

    /// Keeps the sample of `sessions`, in their order. Returns how many there were when some were
    /// left out, else nil.
    func apply(to sessions: inout [Session]) -> Int? {
        guard sessions.count > limit else { return nil }
        let before = sessions.count
        sessions = positions(count: before).map { sessions[$0] }
        return before
    }
}
