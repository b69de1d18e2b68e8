import ArgumentParser
import DANSeR
import Testing

@testable import BatchJob

/// `--max-training-sessions`: a night keeps the most recent sessions by end time, ties decided by
/// their place in the list, its sessions and end times still parallel; refused values name the
/// option, and the setting reaches the nightly job.
@Suite struct TrainingSessionCapTests {
    /// Session i is `[i, i]`, so what was kept says where it came from.
    static func sessions(_ count: Int) -> [Session] { (0..<count).map { [Int32($0 + 1), Int32($0 + 1)] } }

    @Test func theMostRecentAreKeptInTheirOrder() throws {
        // In time order, as the split lists them; ties at 20 and 30.
        var sessions = Self.sessions(7)
        var endTimes: [Int64] = [10, 20, 20, 30, 30, 30, 50]
        let before = TrainingSessionCap(limit: 4).apply(to: &sessions, endTimes: &endTimes)
        #expect(before == 7)
        #expect(sessions == [[4, 4], [5, 5], [6, 6], [7, 7]])
        #expect(endTimes == [30, 30, 30, 50])

        // A tie across the cut: the later of the sessions ending at 20 is kept, the earlier dropped.
        var tied = Self.sessions(7)
        var tiedEnds: [Int64] = [10, 20, 20, 30, 30, 30, 50]
        _ = TrainingSessionCap(limit: 5).apply(to: &tied, endTimes: &tiedEnds)
        #expect(tied == [[3, 3], [4, 4], [5, 5], [6, 6], [7, 7]])
        #expect(tiedEnds == [20, 30, 30, 30, 50])
    }

    @Test func outOfOrderSessionsAreChosenByEndTimeAndStayParallel() throws {
        var sessions = Self.sessions(6)
        var endTimes: [Int64] = [50, 10, 30, 30, 20, 40]
        let cap = TrainingSessionCap(limit: 3)
        #expect(cap.keptPositions(endTimes: endTimes) == [0, 3, 5])
        #expect(cap.apply(to: &sessions, endTimes: &endTimes) == 6)
        // Kept in their own order, each with its own end time.
        #expect(sessions == [[1, 1], [4, 4], [6, 6]])
        #expect(endTimes == [50, 30, 40])
    }

    @Test func aRerunKeepsTheSameSessions() {
        let endTimes: [Int64] = (0..<1_000).map { Int64(($0 * 7_919) % 97) }
        let cap = TrainingSessionCap(limit: 100)
        let first = cap.keptPositions(endTimes: endTimes)
        #expect(first.count == 100)
        #expect(cap.keptPositions(endTimes: endTimes) == first)
        // Every kept session ends no earlier than every dropped one.
        let dropped = Set(endTimes.indices).subtracting(first)
        #expect(first.map { endTimes[$0] }.min()! >= dropped.map { endTimes[$0] }.max()!)
    }

    @Test func atOrUnderTheCapNothingChanges() {
        var sessions = Self.sessions(3)
        var endTimes: [Int64] = [3, 1, 2]
        #expect(TrainingSessionCap(limit: 3).apply(to: &sessions, endTimes: &endTimes) == nil)
        #expect(sessions == Self.sessions(3) && endTimes == [3, 1, 2])
    }

    @Test func refusedValuesNameTheOption() {
        for value in ["0", "-1"] {
            #expect { _ = try TrainingOptions.parse(["--max-training-sessions=\(value)"]) } throws: { error in
                TrainingOptions.message(for: error).contains("--max-training-sessions")
                    && TrainingOptions.exitCode(for: error) == .validationFailure
            }
        }
    }

    @Test func theSettingReachesTheNight() throws {
        let options = try TrainingOptions.parse(["--max-training-sessions", "250"])
        var settings = NightlySettings(asOf: LogicalDate(day: 20_000))
        options.apply(to: &settings)
        #expect(settings.maxTrainingSessions == 250)
        #expect(try TrainingOptions.parse([]).maxTrainingSessions == 1_000_000)
        #expect(NightlySettings(asOf: LogicalDate(day: 20_000)).maxTrainingSessions == 1_000_000)
        #expect(SettingKey.all.contains(.maxTrainingSessions))
        #expect(SettingKey.maxTrainingSessions.problem(with: "many") != nil)
    }
}
