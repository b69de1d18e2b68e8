import DANSeR
import FeatureStore
import Foundation
import Logging

/// The stages of a run, in pipeline order; the names the ledger (`danser.runs.stage`), the
/// timings and the fault-injection hold points use.
enum StageName: String, Sendable, CaseIterable {
    case ingest, prepare, train, evaluate, gate
    case publishFeatures = "publish_features"
    case contest
    case score
    case publishRecommendations = "publish_recommendations"
}

/// What a stage hands back: its typed output, and the record of it the ledger keeps.
protocol StageResult {
    /// The stage's result as the ledger stores it under the stage's name in `stage_results`.
    var ledgerRecord: [String: Any] { get }
}

/// One step of a run: takes the run context and its input, returns a typed result. Pipelines
/// (`nightly`, `score`, a shard, each backfilled date) are compositions of these.
protocol Stage {
    associatedtype Input
    associatedtype Output: StageResult
    static var name: StageName { get }
    func callAsFunction(_ input: Input, in context: RunContext) throws -> Output
}

/// Everything a stage works with: the settings, the database, the run's ledger row and what the
/// run found so far (the summary the report and metrics are made from).
final class RunContext {
    let settings: NightlySettings
    let connection: Connection
    let logger: Logger
    let runID: Int64
    var summary: NightlySummary

    let ledger = RunLedger()
    let registry = ModelRegistry()
    let vocabularyStore = ItemVocabularyStore()
    let features = FeatureRepository()
    let checkpoints = TrainingCheckpointStore()
    let publisher = RecommendationPublisher()

    /// Each finished stage's ledger record, by stage name.
    private(set) var results: [String: Any] = [:]

    init(settings: NightlySettings, connection: Connection, logger: Logger, runID: Int64, summary: NightlySummary) {
        self.settings = settings
        self.connection = connection
        self.logger = logger
        self.runID = runID
        self.summary = summary
    }

    /// Runs one stage: the ledger notes the stage first (where the run stopped if it never
    /// finishes), then the stage runs, timed; its result is kept for the ledger. A stop asked for
    /// by a signal ends the run before and after each stage.
    func run<S: Stage>(_ stage: S, _ input: S.Input) throws -> S.Output {
        let name = S.name.rawValue
        try ShutdownSignal.check(name)
        RunStage.enter(name)
        try ledger.recordStage(runID: runID, stage: name, on: connection)
        FaultInjection.hold(at: name)
        try ShutdownSignal.check(name)
        let start = Date()
        defer { summary.timings.append((name, Date().timeIntervalSince(start))) }
        let output = try stage(input, in: self)
        results[name] = output.ledgerRecord
        return output
    }

    /// Writes the finished stages' results to the ledger row.
    func recordResults() throws {
        try ledger.recordStageResults(runID: runID, resultsJSON: JSON.encode(results), on: connection)
    }

    /// The model of `record`, from its checkpoint, after checking every stored blob it serves with.
    func loadModel(_ record: ModelRecord) throws -> Model {
        try FeatureRepository().verify(version: record.version, rows: record.itemCount + 1, dim: record.dim, on: connection)
        return try Checkpoint(decoding: Data(try registry.checkpoint(version: record.version, on: connection))).makeModel()
    }
}

/// Test-only hold points for the kill and fault tests: `DANSER_TEST_HOLD_STAGE=name:seconds`
/// (comma-separated for several) pauses the run at the start of stage `name` (a `StageName`), or
/// inside the publishing transaction, after the rows are staged and audited: `swap` just before
/// the day is swapped in, `commit` after the swap and before the commit. A stage hold starts
/// after the ledger row says the run reached the stage. A hold ends early on a signal, or once the file named by
/// `DANSER_TEST_HOLD_RELEASE` exists. Never set in production, where it costs one lookup per stage.
enum FaultInjection {
    static let variable = "DANSER_TEST_HOLD_STAGE"
    static let releaseVariable = "DANSER_TEST_HOLD_RELEASE"

    static func hold(at point: String) {
        guard let text = ProcessInfo.processInfo.environment[variable] else { return }
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: ":")
            if parts.count == 2, parts[0] == point, let seconds = Double(parts[1]), seconds > 0 {
                sleep(seconds)
            }
        }
    }

    /// Tests only: `DANSER_TEST_LOSE_ACKNOWLEDGEMENT=point` fails the first attempt that passes
    /// `point`, right after its transaction committed, with a lost connection, as if the commit's
    /// acknowledgement never arrived; the run is then retried like any transient failure.
    static func loseAcknowledgement(at point: String) throws {
        guard ProcessInfo.processInfo.environment["DANSER_TEST_LOSE_ACKNOWLEDGEMENT"] == point, !lostAcknowledgements.contains(point) else { return }
        lostAcknowledgements.insert(point)
        throw FeatureStoreError(.connectionLost, "server closed the connection after the commit (DANSER_TEST_LOSE_ACKNOWLEDGEMENT)")
    }

    nonisolated(unsafe) private static var lostAcknowledgements: Set<String> = []

    /// The older hold of the scoring kill tests (`DANSER_TEST_HOLD_SCORING_SECONDS`).
    static func hold(variable: String) {
        if let text = ProcessInfo.processInfo.environment[variable], let seconds = Double(text), seconds > 0 {
            sleep(seconds)
        }
    }

    /// Sleeps in short steps so a signal, or the release file, ends the hold promptly.
    private static func sleep(_ seconds: Double) {
        let deadline = Date().addingTimeInterval(min(seconds, 600))
        let release = ProcessInfo.processInfo.environment[releaseVariable]
        while Date() < deadline && !ShutdownSignal.isRequested {
            if let release, FileManager.default.fileExists(atPath: release) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
