import Testing

@testable import BatchJob
import FeatureStore

/// The retention rules of `prune`, without a database.
@Suite struct RetentionPlanTests {
    typealias Day = RetentionPlan.Day
    typealias Model = RetentionPlan.Model

    func model(_ version: Int64, parent: Int64? = nil, _ status: ModelStatus) -> Model {
        Model(version: version, parentVersion: parent, status: status, mode: parent == nil ? .retrain : .fineTune, asOf: LogicalDate(day: 100 + version))
    }

    func published(_ day: Int64, model: Int64) -> Day { Day(day: LogicalDate(day: day), runID: day, modelVersion: model, sessions: 1) }

    @Test func theNewestPublishedDayAlwaysStaysAndOldPartitionsGo() {
        let days = [published(10, model: 1), published(9, model: 1), published(5, model: 1), Day(day: LogicalDate(day: 11)), Day(day: LogicalDate(day: 2))]
        let plan = RetentionPlan(days: days, models: [model(1, .champion)], keepDays: 0, keepModels: 0)
        #expect(plan.newestPublished == LogicalDate(day: 10))
        #expect(plan.daysToDrop.map(\.day.day) == [9, 5, 2])
        // An unpublished partition newer than the current day (a run in progress) is not touched.
        #expect(plan.daysToKeep.map(\.day.day) == [11, 10])
        #expect(plan.modelsToDelete.isEmpty)
    }

    @Test func onlyAuditedDaysCountAsTheNewest() {
        // Day 12 was published before day audits existed (an empty day, say): it never sets the cutoff.
        var unaudited = published(12, model: 1)
        unaudited.audited = false
        let plan = RetentionPlan(days: [unaudited, published(10, model: 1), published(9, model: 1)], models: [model(1, .champion)], keepDays: 0, keepModels: 0)
        #expect(plan.newestPublished == LogicalDate(day: 10))
        #expect(plan.daysToDrop.map(\.day.day) == [9])
        let none = RetentionPlan(days: [unaudited], models: [], keepDays: 0, keepModels: 0)
        #expect(none.newestPublished == nil && none.daysToDrop.isEmpty)
    }

    @Test func nothingPublishedDropsNoDay() {
        let plan = RetentionPlan(days: [Day(day: LogicalDate(day: 3))], models: [], keepDays: 0, keepModels: 0)
        #expect(plan.newestPublished == nil && plan.daysToDrop.isEmpty && plan.isEmpty)
    }

    @Test func protectedModelsAndTheirAncestorsStay() {
        let models = [
            model(1, .retired), model(2, parent: 1, .retired), model(3, parent: 2, .rejected), model(4, .retired),
            model(5, parent: 4, .champion), model(6, parent: 2, .rejected), model(7, .candidate),
        ]
        let plan = RetentionPlan(days: [published(20, model: 2)], models: models, keepDays: 30, keepModels: 1)
        let kept = Dictionary(uniqueKeysWithValues: plan.modelsToKeep.map { ($0.model.version, $0.reason) })
        #expect(kept[5] == "champion")
        #expect(kept[4] == "previous champion, the rollback target")
        #expect(kept[7] == "one of the newest 1")
        #expect(kept[2] == "serves the kept day \(LogicalDate(day: 20))")
        #expect(kept[1] == "ancestor of model 2")
        #expect(plan.modelsToDelete.map(\.version) == [6, 3])
        // Once day 20 goes, model 2 and its parent may go too.
        let later = RetentionPlan(days: [published(20, model: 2), published(40, model: 5)], models: models, keepDays: 5, keepModels: 0)
        #expect(later.modelsToDelete.map(\.version) == [7, 6, 3, 2, 1])
    }
}
