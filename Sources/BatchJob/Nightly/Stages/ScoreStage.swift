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
    /// True when `model` is this date's own candidate (it passed the gate).
    var isDateModel = false
    /// A contender that won the contest and scores in the model's place (the model stays the
    /// registry's, and the compare-and-swap is still against the champion at choice).
    var served: ServedContender? = nil
    /// What served and by how much it won, for the day's audit record (nil: no contest ran).
    var servedRecord: [String: Any]? = nil
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
        /// What served the day (see `ContestStage`), kept with its audit.
        var served: [String: Any]
        var paddedSessions = 0
        var ledgerRecord: [String: Any] {
            ["staging": staging, "model": Int(modelVersion), "sessions": sessions, "rows": rows, "fallback_sessions": fallbackSessions,
             "search": search, "served": served["name"] ?? "model \(modelVersion)", "padded_sessions": paddedSessions]
        }
    }

    let shard: ShardSpec

    func callAsFunction(_ input: (ingested: IngestedClicks, scoring: ScoringModel), in context: RunContext) throws -> Output {
        let (ingested, scoring) = input
        let settings = context.settings
        let model = scoring.model
        let day = Int32(settings.asOf.day)
        let served = scoring.served
        let itemCount = served?.itemCount ?? model.itemCount
        let active = ingested.activeSessions(since: settings.activeSinceMicros).filter { shard.contains(sessionID: $0.id) }
        let vocabulary = try context.vocabularyStore.load(on: context.connection)
        // Interned item number -> the model's dense id (0: an item the model does not know).
        let denseID = ingested.denseIDs(in: vocabulary, limit: itemCount)
        let sessions: [Session] = active.map { $0.items.compactMap { denseID[Int($0)] == 0 ? nil : denseID[Int($0)] } }
        let fallback = PopularityFallback(ingested: ingested, denseID: denseID, itemCount: min(vocabulary.count, itemCount), k: settings.topK)
        var audit = RecommendationAudit(k: settings.topK, catalogueSize: itemCount, excludesSeen: settings.excludeSeen)
        var recommender = Recommender(model: model)
        recommender.threads = settings.threads
        recommender.approximate = served == nil ? try Self.approximateTopK(for: model, settings: settings, logger: context.logger) : nil
        var observer = RecommendationObserver(itemCount: itemCount, popularity: fallback.clicks)
        let publisher = context.publisher
        let staging = shard.count > 1
            ? StagingTable(name: try publisher.createShardStaging(day: day, shard: shard.index, of: shard.count, on: context.connection))
            : try publisher.createStaging(day: day, k: settings.topK, streams: settings.publishStreams, on: context.connection)
        FaultInjection.hold(variable: "DANSER_TEST_HOLD_SCORING_SECONDS")
        let progress = ProgressReporter(label: "score", total: Int64(sessions.count), unit: "sessions", logger: context.logger)
        var padded = 0
        let stored = try publisher.copy(into: staging, day: day, modelVersion: scoring.version, runID: context.runID, on: context.connection) { write in
            try Self.topK(sessions, k: settings.topK, excludeSeen: settings.excludeSeen, recommender: recommender, served: served, threads: settings.threads) { first, results in
                try ShutdownSignal.check("scoring")
                var rows: [RecommendationRow] = []
                rows.reserveCapacity(results.count * settings.topK)
                for (offset, scored) in results.enumerated() {
                    let sessionID = active[first + offset].id
                    let seen: Set<Int32> = settings.excludeSeen ? Set(sessions[first + offset]) : []
                    var list = scored
                    let full = min(settings.topK, itemCount)
                    if !list.isEmpty && list.count < full {
                        // A contender scored fewer items than K (few neighbours): the most clicked
                        // items it did not list fill the rest, at the lowest score of the list or 0.
                        let floor = min(list.last!.score, 0)
                        let listed = seen.union(list.map(\.item))
                        list += fallback.recommend(excluding: listed).prefix(full - list.count).map { Recommendation(item: $0.item, score: floor) }
                        padded += 1
                    }
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
        // The staging table was created empty just above (and the lease keeps other runs out), so
        // the rows the server says this COPY stored are the rows it holds: no second read of the day.
        audit.checkWritten(rows: stored)
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
        context.summary.counts["padded_sessions"] = padded
        var record = scoring.servedRecord ?? ["kind": "neural", "name": scoring.isDateModel ? "candidate" : "champion", "model_version": Int(scoring.version)]
        record["padded_sessions"] = padded
        return Output(
            staging: staging.name, modelVersion: scoring.version, championAtChoice: scoring.championAtChoice, sessions: audit.sessions,
            rows: audit.rows, fallbackSessions: observer.fallbackSessions, search: recommender.approximate == nil ? "exact" : "approximate",
            served: record, paddedSessions: padded)
    }

    /// Batches of top-K lists, from the registry's model or from the contender that serves in its place.
    private static func topK(
        _ sessions: [Session], k: Int, excludeSeen: Bool, recommender: Recommender, served: ServedContender?, threads: Int,
        _ body: (Int, [[Recommendation]]) throws -> Void
    ) throws {
        guard let served else {
            try recommender.topK(sessions, k: k, excludeSeen: excludeSeen, body)
            return
        }
        let size = 1_000
        var lower = 0
        while lower < sessions.count {
            let upper = min(sessions.count, lower + size)
            try body(lower, served.topK(Array(sessions[lower..<upper]), k, excludeSeen, threads))
            lower = upper
        }
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
