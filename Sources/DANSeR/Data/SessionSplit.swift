/// The standard session-recommendation preparation (as SR-GNN's preprocessing): group clicks
/// into sessions, drop 1-click sessions, drop items with fewer than `minItemClicks` clicks,
/// drop sessions left shorter than 2, split by the session's last click time, number the
/// training items 1...N in order of first appearance, drop test clicks on unseen items.
public struct SessionSplit<ItemID: Hashable & Sendable>: Sendable {
    /// What the filters removed or changed, so the caller can say so.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var clicks = 0
        public var sessions = 0
        public var singleClickSessions = 0
        public var rareItemClicks = 0
        public var sessionsShortAfterRareItems = 0
        public var unseenTestClicks = 0
        public var testSessionsShortAfterUnseen = 0
        /// Sessions longer than the maximum, cut to their most recent clicks.
        public var truncatedSessions = 0
        public var truncatedClicks = 0

        public var description: String {
            "\(clicks) clicks in \(sessions) sessions; dropped \(singleClickSessions) 1-click sessions, "
                + "\(rareItemClicks) clicks on rare items (\(sessionsShortAfterRareItems) sessions left too short), "
                + "\(unseenTestClicks) test clicks on items unseen in training "
                + "(\(testSessionsShortAfterUnseen) test sessions left too short); "
                + "truncated \(truncatedSessions) sessions to their most recent clicks "
                + "(\(truncatedClicks) older clicks dropped)"
        }
    }

    /// Training sessions in time order.
    public var training: [Session]
    /// Time of each training session's last click (microseconds), parallel to `training`.
    public var trainingEndTimes: [Int64]
    /// Test sessions in time order.
    public var test: [Session]
    /// External id of dense item i is `itemIDs[i - 1]`.
    public var itemIDs: [ItemID]
    public var report: Report

    /// N: dense items are 1...itemCount.
    public var itemCount: Int { itemIDs.count }

    /// Splits `clicks` at `testFrom` (microseconds): sessions whose last click is at or after it
    /// are test sessions. Items of `vocabulary` keep their dense ids (position + 1), so a stored
    /// vocabulary is only ever extended; new training items get the next ids in time order.
    public init<SessionID: Hashable & Sendable>(
        clicks: some Sequence<Click<SessionID, ItemID>>,
        testFrom: Int64,
        minItemClicks: Int = 5,
        maxSessionLength: Int = 200,
        vocabulary: [ItemID] = []
    ) throws(DANSeRError) {
        var report = Report()
        // Group by session, keeping input order for clicks with equal times.
        var indexOfSession: [SessionID: Int] = [:]
        var grouped: [[(item: ItemID, time: Int64)]] = []
        for click in clicks {
            report.clicks += 1
            if let index = indexOfSession[click.session] {
                grouped[index].append((click.item, click.time))
            } else {
                indexOfSession[click.session] = grouped.count
                grouped.append([(click.item, click.time)])
            }
        }
        report.sessions = grouped.count
        for index in grouped.indices where !Self.isSortedByTime(grouped[index]) {
            grouped[index] = Self.stableSortedByTime(grouped[index])
        }
        grouped.removeAll { session in
            let single = session.count < 2
            if single { report.singleClickSessions += 1 }
            return single
        }
        var itemClicks: [ItemID: Int] = [:]
        for session in grouped {
            for click in session { itemClicks[click.item, default: 0] += 1 }
        }
        var kept: [(items: [ItemID], time: Int64)] = []
        kept.reserveCapacity(grouped.count)
        for session in grouped {
            let items = session.lazy.map(\.item).filter { itemClicks[$0]! >= minItemClicks }
            let filtered = Array(items)
            report.rareItemClicks += session.count - filtered.count
            if filtered.count < 2 {
                report.sessionsShortAfterRareItems += 1
                continue
            }
            kept.append((filtered, session.last!.time))
        }
        // Time order of sessions (stable), as the published preprocessing sorts by date.
        let order = kept.indices.sorted { (kept[$0].time, $0) < (kept[$1].time, $1) }
        var itemIDs = vocabulary
        var denseID = [ItemID: Int32](minimumCapacity: vocabulary.count)
        for (index, item) in vocabulary.enumerated() { denseID[item] = Int32(index + 1) }
        var training: [Session] = []
        var trainingEndTimes: [Int64] = []
        var testRaw: [[ItemID]] = []
        for index in order {
            let session = kept[index]
            if session.time >= testFrom {
                testRaw.append(session.items)
                continue
            }
            var dense = Session()
            dense.reserveCapacity(session.items.count)
            for item in session.items {
                if let id = denseID[item] {
                    dense.append(id)
                } else {
                    itemIDs.append(item)
                    let id = Int32(itemIDs.count)
                    denseID[item] = id
                    dense.append(id)
                }
            }
            training.append(dense)
            trainingEndTimes.append(session.time)
        }
        var test: [Session] = []
        for items in testRaw {
            let dense = items.compactMap { denseID[$0] }
            report.unseenTestClicks += items.count - dense.count
            if dense.count < 2 {
                report.testSessionsShortAfterUnseen += 1
                continue
            }
            test.append(dense)
        }
        for index in training.indices where training[index].count > maxSessionLength {
            report.truncatedSessions += 1
            report.truncatedClicks += training[index].count - maxSessionLength
            training[index] = Array(training[index].suffix(maxSessionLength))
        }
        for index in test.indices where test[index].count > maxSessionLength {
            report.truncatedSessions += 1
            report.truncatedClicks += test[index].count - maxSessionLength
            test[index] = Array(test[index].suffix(maxSessionLength))
        }
        guard !training.isEmpty, itemIDs.count >= 2 else {
            throw DANSeRError(
                .datasetTooSmall,
                "no training sessions of 2+ clicks remain after filtering (\(report)); "
                    + "supply more clicks before the test date")
        }
        guard !test.isEmpty else {
            throw DANSeRError(
                .emptyTestWindow,
                "no test sessions at or after the test date remain after filtering (\(report)); "
                    + "choose an earlier --test-from")
        }
        self.training = training
        self.trainingEndTimes = trainingEndTimes
        self.test = test
        self.itemIDs = itemIDs
        self.report = report
    }

    /// The same split with every item id replaced by `transform(id)`: a split made over interned
    /// integer ids (cheaper to group and count) gives back the external ids it numbered.
    public func mapItemIDs<Other: Hashable & Sendable>(_ transform: (ItemID) throws -> Other) rethrows -> SessionSplit<Other> {
        var counts = SessionSplit<Other>.Report()
        counts.clicks = report.clicks
        counts.sessions = report.sessions
        counts.singleClickSessions = report.singleClickSessions
        counts.rareItemClicks = report.rareItemClicks
        counts.sessionsShortAfterRareItems = report.sessionsShortAfterRareItems
        counts.unseenTestClicks = report.unseenTestClicks
        counts.testSessionsShortAfterUnseen = report.testSessionsShortAfterUnseen
        counts.truncatedSessions = report.truncatedSessions
        counts.truncatedClicks = report.truncatedClicks
        return try SessionSplit<Other>(
            training: training, trainingEndTimes: trainingEndTimes, test: test, itemIDs: itemIDs.map(transform), report: counts)
    }

    private init(training: [Session], trainingEndTimes: [Int64], test: [Session], itemIDs: [ItemID], report: Report) {
        self.training = training
        self.trainingEndTimes = trainingEndTimes
        self.test = test
        self.itemIDs = itemIDs
        self.report = report
    }

    private static func isSortedByTime(_ clicks: [(item: ItemID, time: Int64)]) -> Bool {
        zip(clicks, clicks.dropFirst()).allSatisfy { $0.time <= $1.time }
    }

    private static func stableSortedByTime(_ clicks: [(item: ItemID, time: Int64)]) -> [(item: ItemID, time: Int64)] {
        clicks.indices.sorted { (clicks[$0].time, $0) < (clicks[$1].time, $1) }.map { clicks[$0] }
    }
}
