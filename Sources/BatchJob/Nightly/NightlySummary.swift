import FeatureStore

/// What a night found and did: the ledger row, the report and the metrics file are made from it.
struct NightlySummary {
    var runID: Int64?
    var status = RunStatus.running
    var mode = "none"
    var error: String?
    /// Set when another run held the job lease: who, since when.
    var skipReason: String?
    /// Set when the date had already succeeded and this invocation did nothing.
    var alreadyDone: Int64?
    var trainingSkipped = false
    var reusedModel = false
    /// The model this night trained (candidate), and the one its recommendations came from.
    var modelVersion: Int64?
    var scoringVersion: Int64?
    var promoted: Bool?
    var counts: [String: Int] = [:]
    var timings: [(stage: String, seconds: Double)] = []
    var metrics: [String: Any] = [:]
    var epochs: [RunReport.EpochRow] = []
    var comparison: [RunReport.Comparison] = []
    var scores: [Double] = []
    var coverage: Double?
    var popularityDeciles: [Double] = []
    var embeddingBytes: Int?
    var reportPath: String?
    var notes: [String] = []
    /// What served the day and by how much it won (set by the contest).
    var served: String?
    /// The contender that served in the registry model's place, if one did.
    var servedBy: String?
    /// Set when the candidate trails session kNN by more than `--knn-margin` MRR@20 points.
    var knnWarning: String?
    /// True when every session id of the input is a generated one (`danser-batch generate`).
    var syntheticData = false
}
