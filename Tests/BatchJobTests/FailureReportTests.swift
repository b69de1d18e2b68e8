import FeatureStore
import Testing

@testable import BatchJob

@Suite struct FailureReportTests {
    @Test(arguments: [
        (FeatureStoreError(.configuration, "x"), BatchJob.ExitStatus.config),
        (FeatureStoreError(.migrationMismatch, "x"), .config),
        (FeatureStoreError(.authenticationFailed, "x"), .noPermission),
        (FeatureStoreError(.permissionDenied, "x", sqlState: "42501"), .noPermission),
        (FeatureStoreError(.connectionFailed, "x"), .unavailable),
        (FeatureStoreError(.embeddedServer, "x"), .unavailable),
        (FeatureStoreError(.connectionLost, "x"), .tempFail),
        (FeatureStoreError(.queryFailed, "x", sqlState: "53300"), .tempFail),
        (FeatureStoreError(.queryFailed, "x", sqlState: "40001"), .tempFail),
        (FeatureStoreError(.queryFailed, "x", sqlState: "22P02"), .dataError),
        (FeatureStoreError(.queryFailed, "x", sqlState: "42P01"), .config),
        (FeatureStoreError(.queryFailed, "x", sqlState: "XX000"), .software),
    ])
    func mapsEveryKindOfFailureToItsExitCode(error: FeatureStoreError, status: BatchJob.ExitStatus) {
        #expect(FailureReport.exitStatus(for: error) == status)
    }
}
