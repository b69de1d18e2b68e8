import FeatureStore
import Testing

@testable import BatchJob

/// The ledger's and the logs' JSON write a status enum as the text it stands for.
@Suite struct JSONTests {
    @Test func statusesAreWrittenAsTheirText() {
        let object: [String: Any] = ["status": RunStatus.failed, "models": [["status": ModelStatus.champion, "mode": ModelMode.fineTune]]]
        #expect(JSON.encode(object) == #"{"models":[{"mode":"fine-tune","status":"champion"}],"status":"failed"}"#)
    }
}
