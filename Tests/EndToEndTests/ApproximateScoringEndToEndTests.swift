@testable import FeatureStore
import Foundation
import Testing

/// `--approximate-above N`: a model of more than N items is scored by the approximate top-K, its
/// rows pass the same audit and are published; with every cell probed it finds what exact finds.
@Suite(.serialized) struct ApproximateScoringEndToEndTests {
    typealias Window = HistoryWindowEndToEndTests

    /// Each session's published items, as a set (scores from the two paths may differ in the last bits).
    static func itemsPerSession(_ connection: Connection) throws -> [String: Set<String>] {
        var items: [String: Set<String>] = [:]
        for row in try connection.query("SELECT session_id, item_id FROM bi.recommendations_current").rows() {
            items[row[0].stringValue ?? "", default: []].insert(row[1].stringValue ?? "")
        }
        return items
    }

    @Test func aLargeCatalogueIsScoredApproximatelyAndAudited() throws {
        var published: [[String: Set<String>]] = []
        for extra in [[], ["--approximate-above", "5", "--approximate-probes", "64"]] {
            let database = try Harness.makeDatabase()
            #expect(try Harness.run(["migrate"], database: database).status == 0)
            let connection = try Connection(database)
            try Window.longSource(connection)
            let run = try NightlyEndToEndTests.nightly(
                "2025-06-01",
                ["--source-table", "public.long_clicks", "--history-days", "30", "--min-item-clicks", "1", "--mode", "retrain", "--top-k", "5"] + extra,
                database: database)
            #expect(run.status == 0, "\(run.stderr.suffix(2000))")
            let search = try connection.query(
                "SELECT stage_results -> 'score' ->> 'search' FROM danser.runs WHERE command = 'nightly' AND status = 'succeeded'"
            ).scalar()?.stringValue
            #expect(search == (extra.isEmpty ? "exact" : "approximate"))
            published.append(try Self.itemsPerSession(connection))
        }
        #expect(published[0].count == 8)
        #expect(published[0].values.allSatisfy { $0.count == 5 })
        #expect(published[0] == published[1])
    }
}
