import Foundation
import Testing

@testable import BatchJob
import DANSeR
import FeatureStore

@Suite struct LogicalDateTests {
    @Test func parsesPrintsAndBoundsTheDay() throws {
        let date = try #require(LogicalDate(argument: "2016-05-25"))
        #expect(date.description == "2016-05-25")
        #expect(date.startMicros == 1_464_134_400_000_000)
        #expect(date.adding(days: 7).description == "2016-06-01")
        #expect(LogicalDate(argument: "2016-5-25") == nil)
        #expect(LogicalDate(argument: "2016-05-25T00:00:00Z") == nil)
        #expect(LogicalDate.today(now: Date(timeIntervalSince1970: 1_464_134_400 + 86_399)) == date)
    }
}

@Suite struct TrainingModeRuleTests {
    let rule = TrainingModeRule()
    let today = LogicalDate(argument: "2026-05-25")!

    func champion(retrainedDaysAgo days: Int, items: Int = 1000, name: String = "srgnn") -> TrainingModeRule.Champion {
        .init(lastRetrainAsOf: today.adding(days: -days), itemCount: items, configurationName: name)
    }

    @Test func retrainsWithoutAChampionWeeklyOnGrowthAndOnConfigChange() {
        #expect(rule.decide(asOf: today, champion: nil, itemCount: 10, configurationName: "srgnn").mode == .retrain)
        #expect(rule.decide(asOf: today, champion: champion(retrainedDaysAgo: 7), itemCount: 1000, configurationName: "srgnn").mode == .retrain)
        #expect(rule.decide(asOf: today, champion: champion(retrainedDaysAgo: 1), itemCount: 1101, configurationName: "srgnn").mode == .retrain)
        #expect(rule.decide(asOf: today, champion: champion(retrainedDaysAgo: 1), itemCount: 1000, configurationName: "danser").mode == .retrain)
    }

    /// A preset whose content changed (K 3 to K 2 under the same name) retrains too: a fine-tune
    /// would carry the champion's old shape forward until the weekly retrain.
    @Test func retrainsWhenThePresetUnderTheSameNameChanged() {
        var old = ModelConfiguration.danser
        old.propagationSteps = 3
        var stored = champion(retrainedDaysAgo: 1, name: "danser")
        stored.configuration = old
        let decision = rule.decide(asOf: today, champion: stored, itemCount: 1000, configurationName: "danser", configuration: .danser)
        #expect(decision.mode == .retrain)
        #expect(decision.reason.contains("K 3"))
        stored.configuration = .danser
        #expect(rule.decide(asOf: today, champion: stored, itemCount: 1000, configurationName: "danser", configuration: .danser).mode == .finetune)
        // A fine-tuned champion holds its fine-tune's rate and decay step: not a changed preset.
        var fineTuned = ModelConfiguration.danser
        fineTuned.learningRate *= 0.1
        fineTuned.decayStep = 1
        stored.configuration = fineTuned
        #expect(rule.decide(asOf: today, champion: stored, itemCount: 1000, configurationName: "danser", configuration: .danser).mode == .finetune)
    }

    @Test func otherwiseFineTunes() {
        let decision = rule.decide(asOf: today, champion: champion(retrainedDaysAgo: 3), itemCount: 1050, configurationName: "srgnn")
        #expect(decision.mode == .finetune)
        #expect(decision.reason.contains("5%"))
    }
}

@Suite struct PromotionGateTests {
    let gate = PromotionGate(tolerance: 0.5)

    @Test func promotesTheFirstAndTheNotWorse() {
        #expect(gate.decide(candidate: .init(precisionAt20: 10, mrrAt20: 3), champion: nil).promote)
        #expect(gate.decide(candidate: .init(precisionAt20: 49.6, mrrAt20: 17.0), champion: .init(precisionAt20: 50, mrrAt20: 17.2)).promote)
    }

    @Test func rejectsAWorseCandidateAndSaysWhy() {
        let decision = gate.decide(candidate: .init(precisionAt20: 49, mrrAt20: 17.2), champion: .init(precisionAt20: 50, mrrAt20: 17.2))
        #expect(!decision.promote)
        #expect(decision.reason.contains("P@20"))
        #expect(!gate.decide(candidate: .init(precisionAt20: 50, mrrAt20: 16), champion: .init(precisionAt20: 50, mrrAt20: 17.2)).promote)
        #expect(!gate.decide(candidate: .init(precisionAt20: .nan, mrrAt20: 16), champion: nil).promote)
    }
}

@Suite struct ShardSpecTests {
    @Test func parsesAndPartitionsEverySessionOnce() {
        #expect(ShardSpec(argument: "1/4") == ShardSpec(index: 1, count: 4))
        #expect(ShardSpec(argument: "4/4") == nil)
        #expect(ShardSpec(argument: "-1/4") == nil)
        #expect(ShardSpec(argument: "x") == nil)
        let shards = (0..<4).map { ShardSpec(index: $0, count: 4) }
        for id in (0..<500).map({ "session-\($0)" }) {
            #expect(shards.filter { $0.contains(sessionID: id) }.count == 1)
        }
        let sizes = shards.map { shard in (0..<4000).filter { shard.contains(sessionID: "s\($0)") }.count }
        #expect(sizes.allSatisfy { $0 > 800 && $0 < 1200 })
        #expect(ShardSpec.hash("abc") == 0xe71f_a219_0541_574b)  // FNV-1a reference value
    }
}

@Suite struct RecommendationAuditTests {
    @Test func acceptsWellFormedRows() {
        var audit = RecommendationAudit(k: 3, catalogueSize: 10, excludesSeen: false)
        audit.record(session: "a", rows: [(1, 5, 2.0), (2, 7, 1.5), (3, 1, 1.5)])
        audit.checkWritten(rows: 3)
        #expect(audit.passed)
        #expect(audit.sessions == 1 && audit.rows == 3)
    }

    @Test func namesEachKindOfProblem() {
        var audit = RecommendationAudit(k: 3, catalogueSize: 10, excludesSeen: false)
        audit.record(session: "gap", rows: [(1, 5, 2.0), (3, 7, 1.5), (4, 1, 1.0)])
        audit.record(session: "dup", rows: [(1, 5, 2.0), (2, 5, 1.5), (3, 1, 1.0)])
        audit.record(session: "nan", rows: [(1, 5, .nan), (2, 6, 1.5), (3, 1, 1.0)])
        audit.record(session: "short", rows: [(1, 5, 2.0)])
        audit.checkWritten(rows: 99)
        #expect(audit.problems.count == 5)
        #expect(audit.problems.contains { $0.contains("gap") })
        #expect(audit.problems.contains { $0.contains("staging") })
    }
}

@Suite struct BackfillPlanTests {
    @Test func runsNewDatesAndRerunsOnlyWhenAsked() {
        #expect(BackfillCommand.plan(lastStatus: nil, rerun: .none).run)
        #expect(!BackfillCommand.plan(lastStatus: .succeeded, rerun: .none).run)
        #expect(!BackfillCommand.plan(lastStatus: .succeeded, rerun: .failed).run)
        let all = BackfillCommand.plan(lastStatus: .succeeded, rerun: .all)
        #expect(all.run && all.recompute)
        #expect(!BackfillCommand.plan(lastStatus: .failed, rerun: .none).run)
        #expect(BackfillCommand.plan(lastStatus: .interrupted, rerun: .failed).run)
        #expect(!BackfillCommand.plan(lastStatus: .failed, rerun: .failed).recompute)
    }
}
