import Testing

@testable import BatchJob

/// The whole-day audit's rules, without a database.
@Suite struct DayAuditTests {
    let day = LogicalDate(day: 20_000)

    func audit(sessions: Int, rows: Int, fallback: Int = 0, previous: (sessions: Int, rows: Int?)? = (1_000, 20_000), policy: DayAuditPolicy = .init()) -> DayAudit {
        DayAudit(
            day: day, sessions: sessions, rows: rows, fallbackSessions: fallback,
            previous: previous.map { DayAudit.Previous(day: day.adding(days: -1), sessions: $0.sessions, rows: $0.rows) }, policy: policy)
    }

    @Test func anEmptyDayFailsUnlessAllowed() {
        let empty = audit(sessions: 0, rows: 0)
        #expect(empty.problems.contains { $0.contains("--min-sessions") })
        #expect(empty.problems.contains { $0.contains("--min-rows") })
        var policy = DayAuditPolicy()
        policy.allowEmptyDay = true
        #expect(audit(sessions: 0, rows: 0, policy: policy).problems.isEmpty)
        #expect(audit(sessions: 0, rows: 0, policy: policy).record(championCheck: "ok")["empty_day_allowed"] as? Bool == true)
        // Allowing an empty day does not let a collapsed one through.
        #expect(!audit(sessions: 10, rows: 200, policy: policy).problems.isEmpty)
    }

    @Test func aDropFromTheLastDayWithinTheLimitPasses() {
        #expect(audit(sessions: 600, rows: 12_000).problems.isEmpty)
        let collapsed = audit(sessions: 400, rows: 8_000)
        #expect(collapsed.problems.count == 2)
        #expect(collapsed.problems[0].contains("60% fewer") && collapsed.problems[0].contains("--max-day-drop"))
        var policy = DayAuditPolicy()
        policy.maxDrop = 0.7
        #expect(audit(sessions: 400, rows: 8_000, policy: policy).problems.isEmpty)
        // The first day has nothing to compare with; a previous day without a row count compares sessions only.
        #expect(audit(sessions: 5, rows: 100, previous: nil).problems.isEmpty)
        #expect(audit(sessions: 900, rows: 100, previous: (1_000, nil)).problems.isEmpty)
    }

    @Test func tooManyFallbackSessionsFail() {
        #expect(audit(sessions: 1_000, rows: 20_000, fallback: 500).problems.isEmpty)
        let problems = audit(sessions: 1_000, rows: 20_000, fallback: 501).problems
        #expect(problems.count == 1 && problems[0].contains("--max-fallback-share"))
    }

    @Test func floorsAreConfigurable() {
        var policy = DayAuditPolicy()
        policy.minSessions = 2_000
        #expect(audit(sessions: 1_500, rows: 30_000, policy: policy).problems.count == 1)
    }
}
