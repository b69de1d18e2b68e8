import DANSeR
import FeatureStore
import Foundation

/// The runs the job knows, each a composition of the same stages:
///
/// | pipeline | stages |
/// |---|---|
/// | `nightly` (and each date of `backfill`) | ingest, prepare, train, evaluate, gate, publish features, contest, score, publish recommendations |
/// | `nightly --skip-score` | ingest, prepare, train, evaluate, gate, publish features |
/// | `score` | ingest, score, publish recommendations (with the champion) |
/// | `score --shard i/N` | ingest, score (the shard's sessions), publish recommendations (the last shard publishes the day) |
///
/// Training is skipped when there is too little data or this date's model already exists; the
/// base model then scores.
enum Pipeline: Sendable, Equatable {
    /// Train, gate and publish features; then score and publish unless `scoring` is false.
    case nightly(scoring: Bool)
    /// Score with the current champion (a shard of the sessions, or all) and publish.
    case score(ShardSpec)

    /// The ledger's name for this kind of run.
    var command: String {
        switch self {
        case .nightly: return "nightly"
        case .score: return "score"
        }
    }

    var shard: ShardSpec {
        if case .score(let shard) = self { return shard }
        return .whole
    }

    func run(in context: RunContext) throws {
        if case .score = self { try Self.refuseDateOlderThanChampion(in: context) }
        let ingested = try context.run(IngestStage(), ()).clicks
        var scoring: ScoringModel
        switch self {
        case .score:
            guard let champion = try context.registry.champion(on: context.connection) else {
                throw JobError(.tooLittleData, "there is no champion model to score with: run nightly first")
            }
            scoring = ScoringModel(model: try context.loadModel(champion), version: champion.version, championAtChoice: champion.version, reason: "the champion")
        case .nightly(let scores):
            let (chosen, data, evaluation) = try Self.train(ingested, in: context)
            guard scores else {
                context.summary.notes.append("Scoring left to score --shard runs (--skip-score); the contest runs only when the night scores.")
                return
            }
            scoring = try chosen()
            // The contest: a simple contender or the blend serves the night if it beats the registry's model.
            if let data, !context.settings.contest.isEmpty {
                let known = scoring.isDateModel ? evaluation?.candidateResult : evaluation?.championResult
                let contest = try context.run(
                    ContestStage(), .init(data: data, scoring: scoring, knnWarning: context.summary.knnWarning, heldOut: known))
                scoring.served = contest.served
                scoring.servedRecord = contest.record
            }
        }
        let staged = try context.run(ScoreStage(shard: shard), (ingested, scoring))
        _ = try context.run(PublishRecommendationsStage(shard: shard), staged)
    }

    /// `score` serves the champion, which was trained on the clicks before its own date. A date
    /// older than that would be scored by a model that has seen its future, so it is refused
    /// before anything is read, naming `backfill`, which recomputes a date point in time and
    /// leaves the champion as it is.
    private static func refuseDateOlderThanChampion(in context: RunContext) throws {
        let asOf = context.settings.asOf
        guard let champion = try context.registry.champion(on: context.connection), champion.asOfDay > Int32(asOf.day) else { return }
        let championDate = LogicalDate(day: Int64(champion.asOfDay))
        throw JobError(.usage, """
            score --as-of \(asOf) refused: the champion, model \(champion.version), was trained for \(championDate) on clicks \
            before it, so it is not point in time for \(asOf) (score serves the champion for its own date or later). \
            To recompute \(asOf) point in time run `backfill --from \(asOf) --to \(asOf) --rerun all`: it trains and scores \
            on clicks before \(asOf) only and never changes the champion. Nothing was published.
            """)
    }

    /// Prepare, then train, evaluate, gate and publish features when there is something to train.
    /// Returns how to get the model that scores the date: the date's own model if it passed the
    /// gate, else the base model (the champion on an ordinary night; point in time on a backfill).
    private static func train(_ ingested: IngestedClicks, in context: RunContext) throws -> (() throws -> ScoringModel, PreparedData?, Evaluation?) {
        let prepared = try context.run(PrepareStage(), ingested)
        let base = prepared.base
        /// The date's own model when it may serve: its version and how to load it.
        var own: (version: Int64, load: () throws -> Model)?
        var evaluated: Evaluation?
        if let data = prepared.data {
            switch try context.run(TrainStage(), data) {
            case .trained(let trained):
                let evaluation = try context.run(EvaluateStage(), (trained, data))
                evaluated = evaluation
                let verdict = try context.run(GateStage(), evaluation)
                let published = try context.run(PublishFeaturesStage(), (trained, evaluation, verdict, data))
                if verdict.passed { own = (published.version, { published.model }) }
            case .reused(let record):
                if record.status.isServable { own = (record.version, { try context.loadModel(record) }) }
            }
        }
        return ({
            let champion = try context.registry.champion(on: context.connection)?.version
            if let own {
                return ScoringModel(model: try own.load(), version: own.version, championAtChoice: champion, reason: "this date's model", isDateModel: true)
            }
            guard let record = base.record else {
                throw JobError(.tooLittleData, "there is no model to score with: training was not possible and no earlier model exists yet")
            }
            return ScoringModel(model: try context.loadModel(record), version: record.version, championAtChoice: champion, reason: base.reason)
        }, prepared.data, evaluated)
    }
}
