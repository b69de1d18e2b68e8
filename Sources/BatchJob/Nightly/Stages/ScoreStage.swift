import DANSeR
import FeatureStore
import Foundation
import Logging

/// The model that scores a date, and the champion when it was chosen (publishing checks that the
/// champion has not changed since: the compare half of its compare-and-swap).
struct ScoringModel {
    var model: Model
    var version: Int64
    var championAtChoice: Int64?
    var reason: String
}

/// Stage: top-K for every session active in the window before as-of (of this shard, if one),
/// written by binary COPY to a staging table and audited row by row. Nothing is visible yet.
struct ScoreStage: Stage {
    static let name = StageName.score

    struct Output: StageResult {
        var staging: String
        var modelVersion: Int64
        var championAtChoice: Int64?
        var sessions: Int
        var rows: Int
        var fallbackSessions: Int
        /// "approximate" when the approximate top-K scored (see `--approximate-above`), else "exact".
        var search = "exact"
        var ledgerRecord: [String: Any] {
            ["staging": staging, "model": Int(modelVersion), "sessions": sessions, "rows": rows, "fallback_sessions": fallbackSessions, "search": search]
        }
    }

    let shard: ShardSpec

    func callAsFunction(_ input: (ingested: IngestedClicks, scoring: ScoringModel), in context: RunContext) throws -> Output {
        let (ingested, scoring) = input
        let settings = context.settings
        let model = scoring.model
        let day = Int32(settings.asOf.day)
        let active = ingested.activeSessions(since: settings.activeSinceMicros).filter { shard.contains(sessionID: $0.id) }
        let vocabulary = try context.vocabularyStore.load(on: context.connection)
        // Interned item number -> the model's dense id (0: an item the model does not know).
        let denseID = ingested.denseIDs(in: vocabulary, limit: model.itemCount)
        let sessions: [Session] = active.map { $0.items.compactMap { denseID[Int($0)] == 0 ? nil : denseID[Int($0)] } }
        let fallback = PopularityFallback(ingested: ingested, denseID: denseID, itemCount: min(vocabulary.count, model.itemCount), k: settings.topK)
        var audit = RecommendationAudit(k: settings.topK, catalogueSize: model.itemCount, excludesSeen: settings.excludeSeen)
        var recommender = Recommender(model: model)
        recommender.threads = settings.threads
        recommender.approximate = try Self.approximateTopK(for: model, settings: settings, logger: context.logger)
        var observer = RecommendationObserver(itemCount: model.itemCount, popularity: fallback.clicks)
        let publisher = context.publisher
        let staging = shard.count > 1
            ? try publisher.createShardStaging(day: day, shard: shard.index, of: shard.count, on: context.connection)
            : try publisher.createStaging(day: day, on: context.connection)
        FaultInjection.hold(variable: "DANSER_TEST_HOLD_SCORING_SECONDS")
        let progress = ProgressReporter(label: "score", total: Int64(sessions.count), unit: "sessions", logger: context.logger)
        try publisher.copy(into: staging, day: day, modelVersion: scoring.version, runID: context.runID, on: context.connection) { write in
            try recommender.topK(sessions, k: settings.topK, excludeSeen: settings.excludeSeen) { first, results in
                try ShutdownSignal.check("scoring")
                var rows: [RecommendationRow] = []
                rows.reserveCapacity(results.count * settings.topK)
                for (offset, list) in results.enumerated() {
                    let sessionID = active[first + offset].id
                    let seen: Set<Int32> = settings.excludeSeen ? Set(sessions[first + offset]) : []
                    let chosen = list.isEmpty ? fallback.recommend(excluding: seen) : list
                    audit.record(session: sessionID, rows: chosen.enumerated().map { (rank: $0.offset + 1, item: $0.element.item, score: $0.element.score) })
                    observer.observe(chosen, fallback: list.isEmpty)
                    for (rank, recommendation) in chosen.enumerated() {
                        rows.append(RecommendationRow(
                            sessionID: sessionID, rank: Int16(rank + 1), itemID: vocabulary[Int(recommendation.item) - 1],
                            score: recommendation.score, isFallback: list.isEmpty))
                    }
                }
                try write(rows)
                progress.advance(by: Int64(results.count))
            }
        }
        progress.finish()
        audit.checkWritten(rows: try publisher.rowCount(of: staging, on: context.connection))
        guard audit.passed else {
            throw JobError(.auditFailed, "the night's recommendations failed their audit and were not published: " + audit.problems.prefix(5).joined(separator: "; "))
        }
        context.summary.scoringVersion = scoring.version
        context.summary.counts["sessions_scored"] = audit.sessions
        context.summary.counts["recommendation_rows"] = audit.rows
        context.summary.counts["fallback_sessions"] = observer.fallbackSessions
        context.summary.scores = observer.sampledScores
        context.summary.coverage = observer.coverage
        context.summary.popularityDeciles = observer.popularityDeciles
        return Output(
            staging: staging, modelVersion: scoring.version, championAtChoice: scoring.championAtChoice, sessions: audit.sessions,
            rows: audit.rows, fallbackSessions: observer.fallbackSessions, search: recommender.approximate == nil ? "exact" : "approximate")
    }

    /// The approximate top-K when `--approximate-above` is set and the model has more items than
    /// that, else nil (exact scoring). Its rows pass the same audit as exact ones.
    static func approximateTopK(for model: Model, settings: NightlySettings, logger: Logger) throws -> ApproximateTopK? {
        guard let above = settings.approximateAbove, model.itemCount > above else { return nil }
        let start = Date()
        let index = try ApproximateTopK(model: model, probes: settings.approximateProbes, threads: settings.threads)
        logger.info("approximate top-K", metadata: [
            "items": "\(model.itemCount)", "above": "\(above)", "lists": "\(index.index.lists)", "probes": "\(settings.approximateProbes)",
            "index_seconds": "\(String(format: "%.1f", Date().timeIntervalSince(start)))",
        ])
        return index
    }
}
