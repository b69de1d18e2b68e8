import DANSeR
import FeatureStore

/// The clicks a night reads, held as interned integer ids: each distinct session id and item id
/// is kept once as text, and each click is three parallel column entries, 16 bytes in all
/// (`bytesPerClick`: session number, item number, time), so a long window costs no per-click strings.
struct IngestedClicks: Sendable {
    private var sessions = InternTable()
    private var items = InternTable()
    private(set) var clickSession = ChunkedColumn<Int32>()
    private(set) var clickItem = ChunkedColumn<Int32>()
    private(set) var clickTime = ChunkedColumn<Int64>()
    var unusable: [QuarantinedRow] = []
    /// The window the clicks were read for (nil: every click before as-of).
    var window: IngestWindow?
    /// Rows the source returned, before sessions that ended before the window were dropped.
    var rowsRead = 0

    /// Text of each session id, by session number.
    var sessionIDs: [String] { sessions.texts }
    /// Text of each item id, by item number (interned order; not the model's dense ids).
    var itemIDs: [String] { items.texts }

    /// Bytes each click costs in the per-click arrays.
    static let bytesPerClick = 2 * MemoryLayout<Int32>.stride + MemoryLayout<Int64>.stride

    var clickCount: Int { clickTime.count }

    mutating func append(session: String, item: String, time: Int64) {
        clickSession.append(sessions.intern(session))
        clickItem.append(items.intern(item))
        clickTime.append(time)
    }

    /// Keeps the sessions with a click at or after `from`, each with all the clicks read of it (so a
    /// session that crosses the window's start stays whole), and drops the rest; renumbers nothing.
    mutating func keepSessions(clickingFrom from: Int64) {
        var last = [Int64](repeating: .min, count: sessionIDs.count)
        for i in clickTime.indices { last[Int(clickSession[i])] = max(last[Int(clickSession[i])], clickTime[i]) }
        var kept = 0
        for i in clickTime.indices where last[Int(clickSession[i])] >= from {
            clickSession[kept] = clickSession[i]
            clickItem[kept] = clickItem[i]
            clickTime[kept] = clickTime[i]
            kept += 1
        }
        clickSession.truncate(to: kept)
        clickItem.truncate(to: kept)
        clickTime.truncate(to: kept)
    }

    /// Sessions that have at least one click.
    var sessionCount: Int {
        var seen = [Bool](repeating: false, count: sessionIDs.count)
        var count = 0
        for session in clickSession where !seen[Int(session)] {
            seen[Int(session)] = true
            count += 1
        }
        return count
    }

    /// Clicks from `from` on (all when nil), in the model side's form, items by interned number.
    func clicks(from: Int64? = nil) -> [Click<Int32, Int32>] {
        clickTime.indices.compactMap { i in
            if let from, clickTime[i] < from { return nil }
            return Click(session: clickSession[i], item: clickItem[i], time: clickTime[i])
        }
    }

    /// The split of the clicks from `from` on (all when nil), grouped and counted over interned
    /// numbers; the items of `vocabulary` keep their dense ids, and the split names items by text.
    func split(
        from: Int64? = nil, testFrom: Int64, minItemClicks: Int, maxSessionLength: Int, vocabulary: [String]
    ) throws(DANSeRError) -> SessionSplit<String> {
        // Vocabulary items not read in this window get numbers after the interned ones.
        var extra: [String] = []
        let numbers: [Int32] = vocabulary.map { item in
            if let known = items.number(of: item) { return known }
            extra.append(item)
            return Int32(itemIDs.count + extra.count - 1)
        }
        let interned = try SessionSplit(
            clicks: clicks(from: from), testFrom: testFrom, minItemClicks: minItemClicks, maxSessionLength: maxSessionLength,
            vocabulary: numbers)
        return interned.mapItemIDs { number in
            Int(number) < itemIDs.count ? itemIDs[Int(number)] : extra[Int(number) - itemIDs.count]
        }
    }

    /// Sessions with a click at or after `since`, each with all its clicks in time order (ties in
    /// input order) as interned item numbers, sorted by session id so a rerun writes the same rows in
    /// the same order, and in the published key's order under the C collation, which makes the
    /// swap's key build cheap.
    func activeSessions(since: Int64) -> [(id: String, items: [Int32])] {
        var lastClick = [Int64](repeating: .min, count: sessionIDs.count)
        for i in clickTime.indices { lastClick[Int(clickSession[i])] = max(lastClick[Int(clickSession[i])], clickTime[i]) }
        var clicksOf: [Int32: [(time: Int64, order: Int, item: Int32)]] = [:]
        for i in clickTime.indices where lastClick[Int(clickSession[i])] >= since {
            clicksOf[clickSession[i], default: []].append((clickTime[i], i, clickItem[i]))
        }
        return clicksOf.map { session, clicks in
            (sessionIDs[Int(session)], clicks.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.item))
        }.sorted { $0.id < $1.id }
    }

    /// For each interned item, its dense id in `vocabulary` (position + 1, among the first
    /// `limit` items), or 0 when the vocabulary does not have it.
    func denseIDs(in vocabulary: [String], limit: Int) -> [Int32] {
        var dense = [Int32](repeating: 0, count: itemIDs.count)
        for (index, item) in vocabulary.prefix(limit).enumerated() {
            if let number = items.number(of: item) { dense[Int(number)] = Int32(index + 1) }
        }
        return dense
    }

    /// First click time of each item, for the vocabulary's first_seen.
    func firstSeen() -> [String: Int64] {
        var first = [Int64](repeating: .max, count: itemIDs.count)
        for i in clickTime.indices where clickTime[i] < first[Int(clickItem[i])] { first[Int(clickItem[i])] = clickTime[i] }
        var byText: [String: Int64] = [:]
        for (number, time) in first.enumerated() where time != .max { byText[itemIDs[number]] = time }
        return byText
    }

    var latestTime: Int64? { clickTime.max() }
}
