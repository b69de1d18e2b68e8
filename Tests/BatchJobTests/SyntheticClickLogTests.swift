import Foundation
import Testing

@testable import BatchJob

@Suite struct SyntheticClickLogTests {
    func clicks(seed: UInt64, newItemShare: Double = 0) -> [ClickRecord] {
        var options = SyntheticClickLog.Options()
        options.newItemShare = newItemShare
        options.sessions = 500
        options.items = 100
        options.clusters = 5
        options.days = 3
        options.endMicros = 1_464_134_400_000_000
        options.seed = seed
        var records: [ClickRecord] = []
        SyntheticClickLog(options: options).generate { records.append($0) }
        return records
    }

    /// A catalogue barely larger than its cluster count once left a cluster empty (a crash on
    /// `generate --items 60`): every cluster must keep an item, for any seed.
    @Test(arguments: [60, 41, 40]) func smallCataloguesKeepEveryClusterFilled(items: Int) {
        for seed in UInt64(1)...20 {
            var options = SyntheticClickLog.Options()
            options.sessions = 50
            options.items = items
            options.days = 2
            options.endMicros = 1_464_134_400_000_000
            options.seed = seed
            var count = 0
            SyntheticClickLog(options: options).generate { _ in count += 1 }
            #expect(count > 0)
        }
    }

    @Test func sameSeedSameLogOtherSeedOtherLog() {
        #expect(clicks(seed: 7) == clicks(seed: 7))
        #expect(clicks(seed: 7) != clicks(seed: 8))
    }

    @Test func staysInsideTheHistoryAndIsLabelled() {
        let records = clicks(seed: 3)
        let start: Int64 = 1_464_134_400_000_000 - 3 * 86_400_000_000
        #expect(records.allSatisfy { $0.timeMicros >= start && $0.timeMicros < 1_464_134_400_000_000 })
        #expect(records.allSatisfy { $0.sessionID.hasPrefix("synthetic-") && $0.itemID.hasPrefix("synthetic-") })
        #expect(Set(records.map(\.sessionID)).count > 400)
    }

    @Test func newItemsAppearDayByDay() {
        /// Items whose first click falls after the first day of the history.
        func lateItems(_ records: [ClickRecord]) -> Int {
            let firstDay = records.map(\.timeMicros).min()! / 86_400_000_000
            var first: [String: Int64] = [:]
            for record in records { first[record.itemID] = min(first[record.itemID, default: .max], record.timeMicros / 86_400_000_000) }
            return first.values.filter { $0 > firstDay }.count
        }
        let steady = clicks(seed: 3)
        let growing = clicks(seed: 3, newItemShare: 0.5)
        #expect(lateItems(growing) > lateItems(steady) + 10)
        // No share: the same log as ever, so demos and tests keep their data.
        #expect(clicks(seed: 3, newItemShare: 0) == steady)
    }

    @Test func clicksOfASessionAreInTimeOrder() {
        var last: [String: Int64] = [:]
        for record in clicks(seed: 5) {
            #expect(record.timeMicros > last[record.sessionID, default: .min])
            last[record.sessionID] = record.timeMicros
        }
    }

    @Test func writesAGzipLogThatReadsBack() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("danser-gen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("log.csv.gz").path
        var options = SyntheticClickLog.Options()
        options.sessions = 200
        options.items = 50
        options.clusters = 4
        options.endMicros = 1_464_134_400_000_000
        let written = try GenerateCommand.write(options, to: path)
        var parsed: [ClickRecord] = []
        try LineReader(path: path).forEachLine { number, bytes, _ in
            if number == 1 { #expect(GenericClickCSV.isHeader(bytes)); return }
            parsed.append(try GenericClickCSV.parse(bytes).get())
        }
        #expect(parsed.count == written)
        var expected: [ClickRecord] = []
        SyntheticClickLog(options: options).generate { expected.append($0) }
        // The CSV keeps whole seconds.
        #expect(parsed.map(\.itemID) == expected.map(\.itemID))
        #expect(zip(parsed, expected).allSatisfy { $0.timeMicros == $1.timeMicros / 1_000_000 * 1_000_000 })
    }
}
