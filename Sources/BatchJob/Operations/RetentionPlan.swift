import FeatureStore

/// What `prune` removes and keeps, decided from the published days and the model registry
/// alone (no database access here, so the rules are testable on their own).
///
/// Days: every day older than `keepDays` before the newest audited published day goes; that day
/// always stays, and so does every day after it. Days published before day audits existed never
/// count as the newest, so an unaudited (perhaps empty) day cannot make older real days go.
/// Models: a model stays when it is the champion, the previous champion (what `models rollback`
/// returns to), one of the newest `keepModels` versions, the model of a published day that
/// stays, or an ancestor of a model that stays (fine-tune lineage: the registry's parent link
/// and the last-retrain date are read through it). Everything else is deleted, its embeddings
/// and statistics with it.
struct RetentionPlan: Sendable {
    /// One day of recommendations: published, or a partition that was never published.
    struct Day: Sendable, Equatable {
        var day: LogicalDate
        var runID: Int64?
        var modelVersion: Int64?
        var sessions: Int64?
        /// Published with a passed day audit. Only such days count as the reference; a day
        /// published before day audits existed (which may be empty) never does.
        var audited = true
        var isPublished: Bool { runID != nil }
    }

    struct Model: Sendable, Equatable {
        var version: Int64
        var parentVersion: Int64?
        var status: ModelStatus
        var mode: ModelMode
        var asOf: LogicalDate
    }

    private(set) var newestPublished: LogicalDate?
    private(set) var oldestKeptDay: LogicalDate?
    private(set) var daysToDrop: [Day] = []
    private(set) var daysToKeep: [Day] = []
    private(set) var modelsToDelete: [Model] = []
    /// Kept models, newest first, with why each stays.
    private(set) var modelsToKeep: [(model: Model, reason: String)] = []

    init(days: [Day], models: [Model], keepDays: Int, keepModels: Int) {
        newestPublished = days.filter { $0.isPublished && $0.audited }.map(\.day).max()
        let sortedDays = days.sorted { $0.day > $1.day }
        if let newest = newestPublished {
            let cutoff = newest.adding(days: -keepDays)
            oldestKeptDay = cutoff
            daysToDrop = sortedDays.filter { $0.day < cutoff && $0.day != newest }
            daysToKeep = sortedDays.filter { !($0.day < cutoff && $0.day != newest) }
        } else {
            daysToKeep = sortedDays  // nothing published yet: there is no reference day
        }

        let newestFirst = models.sorted { $0.version > $1.version }
        var reasons: [Int64: String] = [:]
        func keep(_ version: Int64, _ reason: String) { if reasons[version] == nil { reasons[version] = reason } }
        for model in newestFirst where model.status == .champion { keep(model.version, "champion") }
        if let previous = newestFirst.first(where: { $0.status == .retired }) {
            keep(previous.version, "previous champion, the rollback target")
        }
        for model in newestFirst.prefix(max(0, keepModels)) { keep(model.version, "one of the newest \(keepModels)") }
        for day in daysToKeep where day.isPublished {
            if let version = day.modelVersion { keep(version, "serves the kept day \(day.day)") }
        }
        let byVersion = Dictionary(newestFirst.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        for version in reasons.keys.sorted(by: >) {
            var child = version
            while let parent = byVersion[child]?.parentVersion, byVersion[parent] != nil {
                keep(parent, "ancestor of model \(version)")
                child = parent
            }
        }
        for model in newestFirst {
            if let reason = reasons[model.version] {
                modelsToKeep.append((model, reason))
            } else {
                modelsToDelete.append(model)
            }
        }
    }

    var isEmpty: Bool { daysToDrop.isEmpty && modelsToDelete.isEmpty }
}
