@testable import FeatureStore
import Foundation
import Testing

/// The nightly contest as a scheduler runs it, on the real YOOCHOOSE 100k sample (skipped where
/// ../shared is absent), where session kNN is known to beat a one-epoch candidate by far: the
/// winner serves the night through the audited publishing path, and `bi.served_days`, the ledger
/// and the report say what served and by how much.
@Suite(.serialized) struct ContestEndToEndTests {
    static let common = ["--epochs", "1", "--log-format", "json", "--tolerance", "100", "--mode", "retrain"]

    static func nightly(_ asOf: String, _ extra: [String] = [], database: ConnectionConfiguration) throws -> Harness.Run {
        try Harness.run(["nightly", "--as-of", asOf] + common + extra, database: database)
    }

    static func scalar(_ connection: Connection, _ sql: String) throws -> String? {
        let value = try connection.query(sql).scalar()
        return value?.stringValue ?? value?.int64Value.map(String.init) ?? value?.doubleValue.map { String($0) }
    }

    @Test func theContestWinnerServesTheNightAndEveryRecordSaysSo() throws {
        guard let database = try NightlyEndToEndTests.importedDatabase() else {
            print("skipped: ../shared/data/samples is not here")
            return
        }
        let reports = Harness.scratchFolder + "/contest-reports-\(UUID().uuidString)"
        let run = try Self.nightly(
            "2014-04-08", ["--report-dir", reports], database: database)
        #expect(run.status == 0, "\(run.stderr.suffix(3000))")
        let connection = try Connection(database)

        // A simple contender (or the blend) won on the held-out day and served it.
        let served = try connection.query("""
            SELECT served_kind, served_name, served_setting, mrr_at_20, neural_mrr_at_20, margin_mrr_at_20, runner_up, knn_warning
            FROM bi.served_days WHERE is_current
            """).rows()
        #expect(served.count == 1)
        let kind = served.first?[0].stringValue ?? ""
        #expect(["vsknn", "stan", "sr", "slist", "blend"].contains(kind), "served \(served)")
        let mrr = served.first?[3].doubleValue ?? 0
        let neural = served.first?[4].doubleValue ?? 100
        #expect(mrr > neural)
        #expect((served.first?[5].doubleValue ?? -1) >= 0)
        #expect(served.first?[6].stringValue != nil)

        // Through the audited path: full lists, the day's audit and the CAS against the champion.
        let lists = try connection.query("""
            SELECT count(*) FILTER (WHERE n <> 20) FROM (SELECT count(*) AS n FROM bi.recommendations_current GROUP BY session_id) s
            """).scalar()?.int64Value
        #expect(lists == 0)
        let day = try connection.query("SELECT sessions, model_version FROM bi.days WHERE is_current").rows()
        #expect((day.first?[0].int64Value ?? 0) > 0)
        let champion = try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion'").scalar()?.int64Value
        #expect(day.first?[1].int64Value == champion, "the registry's model stays the day's model_version")
        let audit = try Self.scalar(connection, "SELECT audit ->> 'champion_check' FROM danser.published_recommendations WHERE as_of = '2014-04-08'")
        #expect(audit?.contains("unchanged") == true)

        // The ledger: every contender with its held-out metrics (or why it was skipped), and the verdict.
        let contest = try Self.scalar(connection, """
            SELECT stage_results -> 'contest' FROM danser.runs WHERE command = 'nightly' AND as_of = '2014-04-08' AND status = 'succeeded'
            """) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(contest.utf8)) as? [String: Any] ?? [:]
        let contenders = object["contenders"] as? [[String: Any]] ?? []
        #expect(Set(contenders.compactMap { $0["kind"] as? String }) == ["neural", "vsknn", "stan", "sr", "slist", "blend"], "\(contest)")
        for row in contenders where row["skipped"] == nil {
            #expect(row["mrr@20"] as? Double != nil && row["p@20"] as? Double != nil, "\(row)")
        }
        #expect(object["kind"] as? String == kind)
        // The kNN warning (ContestRulesTests has the rule), where the evaluation raised one, is the
        // same in the ledger, bi.served_days and the summary.
        let warning = try Self.scalar(connection, """
            SELECT stage_results -> 'evaluate' ->> 'knn_warning' FROM danser.runs WHERE command = 'nightly' AND as_of = '2014-04-08' AND status = 'succeeded'
            """)
        #expect(warning == served.first?[7].stringValue)
        #expect(run.stdout.contains("WARNING: the candidate's MRR@20") == (warning != nil))

        // The summary and the report show the contest and the winner.
        #expect(run.stdout.contains("\"served\":") && run.stdout.contains("V-SKNN") && run.stdout.contains("STAN"), "\(run.stdout)")
        let path = try Self.scalar(connection, "SELECT report_path FROM danser.runs WHERE command = 'nightly' AND as_of = '2014-04-08' AND status = 'succeeded'") ?? ""
        let html = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        #expect(html.contains("class=\"served\"") && html.contains("blend"), "report at \(path)")

        // A rerun converges on the same day: the contest is deterministic.
        let before = try NightlyEndToEndTests.published(database)
        let again = try Self.nightly("2014-04-08", ["--rerun"], database: database)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        #expect(try NightlyEndToEndTests.published(database) == before)
    }

    @Test func aGridNoValidationCanRankIsSkippedNamingItsOptionAndNoContestLeavesTheModelServing() throws {
        guard let database = try NightlyEndToEndTests.importedDatabase() else {
            print("skipped: ../shared/data/samples is not here")
            return
        }
        // A validation window of every training day leaves nothing to fit the grids on: the two
        // grids of several values are refused, naming their options; the single setting still
        // competes, and the night succeeds.
        let run = try Self.nightly(
            "2014-04-08", ["--validation-days", "30", "--contenders", "vsknn,sr", "--sr-window", "3"], database: database)
        #expect(run.status == 0, "\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("Contender V-SKNN skipped: cannot rank the 2 settings of --vsknn-k"), "\(run.stdout)")
        let connection = try Connection(database)
        let contest = try Self.scalar(connection, "SELECT stage_results -> 'contest' FROM danser.runs WHERE as_of = '2014-04-08' AND status = 'succeeded'") ?? ""
        #expect(contest.contains("--vsknn-k") && contest.contains("\"sr\""), "\(contest)")

        // --contenders none: no contest stage; the registry's model serves, as before the contest.
        let plain = try Self.nightly("2014-04-08", ["--rerun", "--contenders", "none"], database: database)
        #expect(plain.status == 0, "\(plain.stderr.suffix(2000))")
        #expect(try Self.scalar(connection, "SELECT served_kind FROM bi.served_days WHERE is_current") == "neural")
        #expect(try Self.scalar(connection, "SELECT margin_mrr_at_20 FROM bi.served_days WHERE is_current") == nil)

        // Bad lists are usage errors naming the option.
        let bad = try Self.nightly("2014-04-08", ["--contenders", "knn"], database: database)
        #expect(bad.status == 64 && bad.stderr.contains("--contenders"), "\(bad.stderr)")
    }
}
