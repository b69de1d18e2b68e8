import DANSeR
import Testing

@Suite struct ValidationSplitTests {
    let sessions: [Session] = (1...10).map { [Int32($0), Int32($0 + 1)] }
    /// Session i ends on day i (microseconds).
    let ends: [Int64] = (1...10).map { Int64($0) * 86_400_000_000 }

    @Test func fractionHoldsOutTheMostRecentSessions() throws {
        let split = try ValidationSplit(training: sessions, endTimes: ends, window: .fraction(0.2))
        #expect(split.fit == Array(sessions[..<8]))
        #expect(split.validation == Array(sessions[8...]))
    }

    @Test func daysHoldOutTheFinalDays() throws {
        let split = try ValidationSplit(training: sessions, endTimes: ends, window: .days(3))
        #expect(split.validation == Array(sessions[7...]))
        #expect(split.fit.count == 7)
    }

    @Test func aWindowThatLeavesNothingToFitOnIsRefused() {
        #expect(throws: DANSeRError.self) { try ValidationSplit(training: sessions, endTimes: ends, window: .days(30)) }
        #expect(throws: DANSeRError.self) { try ValidationSplit(training: sessions, endTimes: ends, window: .fraction(1.5)) }
        #expect(throws: DANSeRError.self) { try ValidationSplit(training: [sessions[0]], endTimes: [ends[0]], window: .fraction(0.5)) }
    }
}
