import ArgumentParser
import DANSeR
import Testing

@testable import BatchJob

/// `--max-evaluation-sessions`: an evaluation reads an evenly spread sample of its sessions, the
/// same on every rerun, in their order; refused values name the option, and the setting reaches
/// the nightly job.
@Suite struct EvaluationSampleTests {
    /// Session i is `[i, i]`, so what was kept says where it came from.
    static func sessions(_ count: Int) -> [Session] { (0..<count).map { [Int32($0 + 1), Int32($0 + 1)] } }

    @Test func theSampleSpansThePeriodInOrder() {
        var sessions = Self.sessions(10)
        #expect(EvaluationSample(limit: 4).apply(to: &sessions) == 10)
        #expect(sessions == [[1, 1], [3, 3], [6, 6], [8, 8]])
        // 1,000 of 7,777: distinct, ascending, from the first session to near the last.
        let positions = EvaluationSample(limit: 1_000).positions(count: 7_777)
        #expect(positions.count == 1_000 && Set(positions).count == 1_000)
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 })
        #expect(positions.first == 0 && positions.last! >= 7_777 - 8)
        #expect(EvaluationSample(limit: 1_000).positions(count: 7_777) == positions)
    }

    @Test func atOrUnderTheLimitNothingChanges() {
        var sessions = Self.sessions(3)
        #expect(EvaluationSample(limit: 3).apply(to: &sessions) == nil)
        #expect(sessions == Self.sessions(3))
    }

    @Test func refusedValuesNameTheOption() {
        for value in ["0", "-1"] {
            #expect { _ = try TrainingOptions.parse(["--max-evaluation-sessions=\(value)"]) } throws: { error in
                TrainingOptions.message(for: error).contains("--max-evaluation-sessions")
                    && TrainingOptions.exitCode(for: error) == .validationFailure
            }
        }
    }

    @Test func theSettingReachesTheNight() throws {
        let options = try TrainingOptions.parse(["--max-evaluation-sessions", "250"])
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        options.apply(to: &settings)
        #expect(settings.maxEvaluationSessions == 250)
        #expect(try TrainingOptions.parse([]).maxEvaluationSessions == 50_000)
        #expect(SettingKey.all.contains(.maxEvaluationSessions))
    }
}
