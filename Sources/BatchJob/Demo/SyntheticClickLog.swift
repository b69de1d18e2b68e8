import Foundation

/// A synthetic click log with structure a session model can learn, so the project can be shown
/// and tested without anyone's data: item clusters, a popularity skew, sequential habits within
/// sessions, repeat clicks, and a few days of history at realistic times of day.
/// Every id it writes starts with `synthetic-` so the data cannot be mistaken for real clicks.
struct SyntheticClickLog: Sendable {
    /// How big and how shaped the log is. Defaults make a log a laptop trains on in seconds.
    struct Options: Sendable {
        /// Number of sessions (default 20,000).
        var sessions = 20_000
        /// Number of distinct items in the catalogue (default 2,000).
        var items = 2_000
        /// Number of item clusters, each a "category" sessions tend to stay in (default 40).
        var clusters = 40
        /// Days of history, ending at `end` (default 7).
        var days = 7
        /// Exclusive end of the history, in microseconds since the epoch (UTC midnight of a day).
        var endMicros: Int64 = 0
        /// Mean number of clicks per session (default 5).
        var meanSessionLength = 5.0
        /// Share of the catalogue released during the history, spread evenly over its days after
        /// the first; an item is never clicked before its release (default 0: all items from day 0).
        var newItemShare = 0.0
        /// Seed: the same options and seed always give the same log.
        var seed: UInt64 = 1
    }

    let options: Options

    /// Item ids as they appear in the log.
    static func itemID(_ index: Int) -> String { "synthetic-item-\(index)" }
    /// Session ids carry the seed and the history's end, so two generated logs never share a session.
    func sessionID(_ index: Int) -> String {
        "synthetic-session-\(options.seed)-\(options.endMicros / 86_400_000_000)-\(index)"
    }

    /// Calls `emit` for every click, sessions in start-time order, clicks in time order.
    func generate(_ emit: (ClickRecord) throws -> Void) rethrows {
        var random = SplitMix64(seed: options.seed)
        let catalogue = Catalogue(options: options, random: &random)
        let spanSeconds = Int64(options.days) * 86_400
        let startMicros = options.endMicros - spanSeconds * 1_000_000

        // Session start times: uniform over days, shaped by a diurnal curve (busy evenings,
        // quiet nights), then sorted so the log reads in time order like an export would.
        var starts: [Int64] = (0..<options.sessions).map { _ in
            let day = Int64(random.next(below: UInt64(options.days)))
            let secondOfDay = Self.diurnalSecond(&random)
            return day * 86_400 + secondOfDay
        }
        starts.sort()

        for (index, startSecond) in starts.enumerated() {
            let length = sessionLength(&random)
            let day = Int(startSecond / 86_400)
            var micros = startMicros + startSecond * 1_000_000 + Int64(random.next(below: 1_000_000))
            var clicked: [Int] = []
            var cluster = catalogue.pickCluster(&random)
            var item = catalogue.pickItem(in: cluster, day: day, &random)
            for _ in 0..<length {
                // Never spill past the end of the history: the last clicks of a late session are cut.
                guard micros < options.endMicros else { break }
                try emit(ClickRecord(sessionID: sessionID(index + 1), itemID: Self.itemID(item), timeMicros: micros))
                clicked.append(item)
                let roll = random.nextUnit()
                if roll < 0.55 {
                    item = catalogue.successor(of: item, day: day, &random)  // the habit a GNN learns
                } else if roll < 0.80 {
                    item = catalogue.pickItem(in: cluster, day: day, &random)
                } else if roll < 0.92, let earlier = clicked.randomElement(using: &random) {
                    item = earlier  // going back to something already seen
                } else {
                    cluster = catalogue.pickCluster(&random)
                    item = catalogue.pickItem(in: cluster, day: day, &random)
                }
                micros += Int64(8 + random.next(below: 170)) * 1_000_000 + Int64(random.next(below: 1_000_000))
            }
        }
    }

    /// Geometric-like session length with the configured mean; some one-click sessions included,
    /// as in real logs (the benchmark filters drop them).
    private func sessionLength(_ random: inout SplitMix64) -> Int {
        let p = 1.0 / max(1.0, options.meanSessionLength)
        var length = 1
        while random.nextUnit() > p && length < 60 { length += 1 }
        return length
    }

    /// A second of the day drawn from a two-peaked curve: low at night, a midday bump, an evening peak.
    private static func diurnalSecond(_ random: inout SplitMix64) -> Int64 {
        while true {
            let second = Int64(random.next(below: 86_400))
            let hour = Double(second) / 3600
            let evening = exp(-pow((hour - 20.5) / 2.5, 2))
            let midday = 0.6 * exp(-pow((hour - 12.5) / 2.0, 2))
            let weight = 0.08 + evening + midday
            if random.nextUnit() * 1.1 < weight { return second }
        }
    }
}

/// Items, their clusters, Zipf-shaped popularity and each item's few habitual successors.
private struct Catalogue {
    let clusterOfItem: [Int]
    let itemsOfCluster: [[Int]]
    let clusterWeights: CumulativeWeights
    let itemWeights: [CumulativeWeights]
    let successors: [[Int]]
    /// Day of the history on which each item can first be clicked (0 for the initial catalogue).
    let releaseDay: [Int]

    init(options: SyntheticClickLog.Options, random: inout SplitMix64) {
        let clusters = max(1, min(options.clusters, options.items))
        var clusterOfItem = [Int](repeating: 0, count: options.items + 1)
        var itemsOfCluster = [[Int]](repeating: [], count: clusters)
        for item in 1...options.items {
            let cluster = Int(random.next(below: UInt64(clusters)))
            clusterOfItem[item] = cluster
            itemsOfCluster[cluster].append(item)
        }
        for cluster in 0..<clusters where itemsOfCluster[cluster].isEmpty {
            // Every cluster keeps at least one item so picking a cluster always finds one. The item
            // comes from the largest cluster, which has two or more (clusters <= items), so the
            // move never empties another.
            let donor = itemsOfCluster.indices.max { itemsOfCluster[$0].count < itemsOfCluster[$1].count }!
            let item = itemsOfCluster[donor].removeLast()
            clusterOfItem[item] = cluster
            itemsOfCluster[cluster].append(item)
        }
        self.clusterOfItem = clusterOfItem
        self.itemsOfCluster = itemsOfCluster
        clusterWeights = CumulativeWeights((0..<clusters).map { 1 / pow(Double($0 + 1), 0.8) })
        var ranks: [[Int]] = []
        itemWeights = itemsOfCluster.map { members in
            var order = Array(0..<members.count)
            order.shuffle(using: &random)
            ranks.append(order)
            return CumulativeWeights(order.map { 1 / pow(Double($0 + 1), 1.1) })
        }
        // New items: a random share of those that are not their cluster's most popular (so every
        // cluster always has something to click), each released on a day after the first.
        var releaseDay = [Int](repeating: 0, count: options.items + 1)
        if options.newItemShare > 0, options.days > 1 {
            for (cluster, members) in itemsOfCluster.enumerated() {
                for (position, item) in members.enumerated() where ranks[cluster][position] > 0 {
                    if random.nextUnit() < options.newItemShare {
                        releaseDay[item] = 1 + Int(random.next(below: UInt64(options.days - 1)))
                    }
                }
            }
        }
        self.releaseDay = releaseDay
        // Each item leads on to two or three items, mostly in its own cluster.
        var successors = [[Int]](repeating: [], count: options.items + 1)
        for item in 1...options.items {
            let home = itemsOfCluster[clusterOfItem[item]]
            successors[item] = (0..<(2 + Int(random.next(below: 2)))).map { _ in
                random.nextUnit() < 0.85 ? home[Int(random.next(below: UInt64(home.count)))] : 1 + Int(random.next(below: UInt64(options.items)))
            }
        }
        self.successors = successors
    }

    func pickCluster(_ random: inout SplitMix64) -> Int { clusterWeights.draw(&random) }

    /// An item of `cluster` released by `day`, by popularity (the cluster's most popular item is
    /// always released, so the draw ends).
    func pickItem(in cluster: Int, day: Int, _ random: inout SplitMix64) -> Int {
        while true {
            let item = itemsOfCluster[cluster][itemWeights[cluster].draw(&random)]
            if releaseDay[item] <= day { return item }
        }
    }

    /// The first successor is the strongest habit; an unreleased one gives way to its cluster.
    func successor(of item: Int, day: Int, _ random: inout SplitMix64) -> Int {
        let options = successors[item]
        let next = random.nextUnit() < 0.6 ? options[0] : options[Int(random.next(below: UInt64(options.count)))]
        return releaseDay[next] <= day ? next : pickItem(in: clusterOfItem[next], day: day, &random)
    }
}

/// Draws an index with probability proportional to its weight, by binary search.
private struct CumulativeWeights {
    let cumulative: [Double]

    init(_ weights: [Double]) {
        var total = 0.0
        cumulative = weights.map { total += $0; return total }
    }

    func draw(_ random: inout SplitMix64) -> Int {
        let target = random.nextUnit() * cumulative[cumulative.count - 1]
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same stream everywhere.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, bound) without modulo bias worth caring about at these sizes.
    mutating func next(below bound: UInt64) -> UInt64 { next(upperBound: bound) }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
