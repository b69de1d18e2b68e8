import Foundation
import Testing

@testable import FeatureStore

/// Rows decode through typed, throwing reads: a NULL where a value is required, a value of
/// another type, or a status that is not one of its enum's cases is an error naming the column,
/// never a silent 0 or empty string. And the ledger has one writer of a run's report path.
@Suite struct TypedDecodingTests {
    @Test func aMissingOrMistypedValueIsAnErrorNamingTheColumn() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let result = try connection.query("SELECT NULL::bigint AS version, 'x'::text AS status, 7::integer AS dim, 'succeeded'::text AS ok")
        do {
            _ = try result.int64(0, 0)
            Issue.record("NULL read as an integer")
        } catch let error as FeatureStoreError {
            #expect(error.code == .decodingFailed && error.message.contains("column version") && error.message.contains("NULL"), "\(error)")
        }
        #expect(try result.optionalInt64(0, 0) == nil)
        #expect(throws: FeatureStoreError.self) { try result.decode(0, 1, as: RunStatus.self) }
        #expect(throws: FeatureStoreError.self) { try result.text(0, 2) }
        #expect(try result.int(0, 2) == 7)
        #expect(try result.decode(0, 3, as: RunStatus.self) == .succeeded)
    }

    @Test func closingARunKeepsTheReportPathItsOneWriterRecorded() throws {
        let connection = try Connection(try ProjectFiles.migratedDatabase())
        let ledger = RunLedger()
        let run = try ledger.start(command: "nightly", asOfDay: 20_784, host: "test", pid: 1, on: connection)
        try ledger.recordReportPath(runID: run, path: "/reports/run-1.html", on: connection)
        // A retried run is closed again after its report was written.
        try ledger.finish(runID: run, status: .succeeded, modelVersion: nil, rowCountsJSON: "{}", timingsJSON: "{}", metricsJSON: "{}", error: nil, on: connection)
        let record = try #require(try ledger.recent(limit: 1, on: connection).first)
        #expect(record.status == .succeeded)
        #expect(record.reportPath == "/reports/run-1.html")
        try ledger.markInterrupted(runID: run, stage: "score", reason: "stopped", on: connection)
        #expect(try ledger.recent(limit: 1, on: connection).first?.status == .succeeded)  // only a running run is interrupted
    }
}
