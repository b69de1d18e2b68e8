import DANSeR
import FeatureStore

/// The clicks a night reads, grouped by session, in compact arrays (one entry per click).
struct IngestedClicks: Sendable {
    var sessionIDs: [String] = []
    var clickSession: [Int32] = []
    var clickItem: [String] = []
    var clickTime: [Int64] = []
    var unusable: [QuarantinedRow] = []
    private var sessionIndex: [String: Int32] = [:]

    var clickCount: Int { clickTime.count }

    mutating func append(session: String, item: String, time: Int64) {
        let index: Int32
        if let known = sessionIndex[session] {
            index = known
        } else {
            index = Int32(sessionIDs.count)
            sessionIndex[session] = index
            sessionIDs.append(session)
        }
        clickSession.append(index)
        clickItem.append(item)
        clickTime.append(time)
    }

    /// Clicks from `from` on (all when nil), in the model side's form.
    func clicks(from: Int64? = nil) -> [Click<Int32, String>] {
        clickTime.indices.compactMap { i in
            if let from, clickTime[i] < from { return nil }
            return Click(session: clickSession[i], item: clickItem[i], time: clickTime[i])
        }
    }

    /// Sessions with a click at or after `since`, each with all its clicks in time order (ties in
    /// input order), sorted by session id so a rerun writes the same rows in the same order, and
    /// in the published key's order under the C collation, which makes the swap's key build cheap.
    func activeSessions(since: Int64) -> [(id: String, items: [String])] {
        var lastClick = [Int64](repeating: .min, count: sessionIDs.count)
        for i in clickTime.indices { lastClick[Int(clickSession[i])] = max(lastClick[Int(clickSession[i])], clickTime[i]) }
        var clicksOf: [Int32: [(time: Int64, order: Int, item: String)]] = [:]
        for i in clickTime.indices where lastClick[Int(clickSession[i])] >= since {
            clicksOf[clickSession[i], default: []].append((clickTime[i], i, clickItem[i]))
        }
        return clicksOf.map { session, clicks in
            (sessionIDs[Int(session)], clicks.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.item))
        }.sorted { $0.id < $1.id }
    }

    /// First click time of each item, for the vocabulary's first_seen.
    func firstSeen() -> [String: Int64] {
        var first: [String: Int64] = [:]
        for i in clickTime.indices where clickTime[i] < first[clickItem[i], default: .max] { first[clickItem[i]] = clickTime[i] }
        return first
    }

    var latestTime: Int64? { clickTime.max() }
}
