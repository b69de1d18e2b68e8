/// Checks a night's top-K rows before they become visible: per session the ranks are 1...n
/// without gaps or repeats and n is K (or the catalogue size, or fewer where `--exclude-seen`
/// removed items), no item repeats, every score is finite, and the row count adds up.
struct RecommendationAudit: Sendable {
    let k: Int
    let catalogueSize: Int
    let excludesSeen: Bool

    private(set) var sessions = 0
    private(set) var rows = 0
    private(set) var problems: [String] = []

    init(k: Int, catalogueSize: Int, excludesSeen: Bool) {
        self.k = k
        self.catalogueSize = catalogueSize
        self.excludesSeen = excludesSeen
    }

    /// The most rows one session may have.
    var expectedPerSession: Int { min(k, catalogueSize) }

    /// Records one session's rows as (rank, item, score), in rank order.
    mutating func record(session: String, rows list: [(rank: Int, item: Int32, score: Float)]) {
        sessions += 1
        rows += list.count
        guard problems.count < 20 else { return }  // enough to say what is wrong
        if list.map(\.rank) != Array(1...max(1, list.count)).prefix(list.count).map({ $0 }) {
            problems.append("session \(session): ranks \(list.map(\.rank)) are not 1...\(list.count)")
        }
        if Set(list.map(\.item)).count != list.count {
            problems.append("session \(session): an item is recommended twice")
        }
        if let bad = list.first(where: { !$0.score.isFinite }) {
            problems.append("session \(session): rank \(bad.rank) has score \(bad.score)")
        }
        if list.count > expectedPerSession || (!excludesSeen && list.count != expectedPerSession && !list.isEmpty) {
            problems.append("session \(session): \(list.count) rows, expected \(expectedPerSession)")
        }
        if zip(list, list.dropFirst()).contains(where: { $0.score < $1.score }) {
            problems.append("session \(session): scores do not fall with rank")
        }
    }

    /// Compares with what was actually written (e.g. the staging table's count).
    mutating func checkWritten(rows written: Int) {
        if written != rows { problems.append("staging holds \(written) rows, the scorer produced \(rows)") }
    }

    var passed: Bool { problems.isEmpty }
}
