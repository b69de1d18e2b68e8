/// The floors a whole day must clear before it becomes visible (`--min-sessions`, `--min-rows`,
/// `--max-day-drop`, `--max-fallback-share`, `--allow-empty-day`).
struct DayAuditPolicy: Sendable {
    /// Fewest sessions and rows a day may have (default 1 each: an empty day is refused).
    var minSessions = 1
    var minRows = 1
    /// Largest drop in sessions or rows from the last audited day, as a share (default 0.5: a day
    /// with fewer than half the sessions of the day before is refused).
    var maxDrop = 0.5
    /// Largest share of sessions that got the popularity fallback (default 0.5).
    var maxFallbackShare = 0.5
    /// Publish a day with no session at all on purpose (default off).
    var allowEmptyDay = false
}

/// Write-audit-publish for a whole day: checks a staged day against the policy and the last
/// audited published day. Pure, so the rules are testable without a database; the publishing
/// transaction runs it just before the swap, with the champion check beside it.
struct DayAudit {
    struct Previous: Sendable {
        var day: LogicalDate
        var sessions: Int
        var rows: Int?
    }

    var day: LogicalDate
    var sessions: Int
    var rows: Int
    var fallbackSessions: Int
    var previous: Previous?
    var policy: DayAuditPolicy

    /// Why the day may not be published; empty when it may.
    var problems: [String] {
        if sessions == 0 && rows == 0 && policy.allowEmptyDay { return [] }
        var problems: [String] = []
        if sessions < policy.minSessions { problems.append("\(sessions) sessions, fewer than the floor of \(policy.minSessions) (--min-sessions)") }
        if rows < policy.minRows { problems.append("\(rows) rows, fewer than the floor of \(policy.minRows) (--min-rows)") }
        if let previous {
            if let drop = Self.drop(from: previous.sessions, to: sessions), drop > policy.maxDrop {
                problems.append("\(sessions) sessions is \(Self.percent(drop)) fewer than the \(previous.sessions) of \(previous.day) (limit \(Self.percent(policy.maxDrop)), --max-day-drop)")
            }
            if let before = previous.rows, let drop = Self.drop(from: before, to: rows), drop > policy.maxDrop {
                problems.append("\(rows) rows is \(Self.percent(drop)) fewer than the \(before) of \(previous.day) (limit \(Self.percent(policy.maxDrop)), --max-day-drop)")
            }
        }
        if sessions > 0 {
            let share = Double(fallbackSessions) / Double(sessions)
            if share > policy.maxFallbackShare {
                problems.append("\(Self.percent(share)) of sessions got the popularity fallback (limit \(Self.percent(policy.maxFallbackShare)), --max-fallback-share)")
            }
        }
        return problems
    }

    /// The audit as it is stored with the published day.
    func record(championCheck: String) -> [String: Any] {
        var record: [String: Any] = [
            "sessions": sessions, "rows": rows, "fallback_sessions": fallbackSessions, "champion_check": championCheck,
            "min_sessions": policy.minSessions, "min_rows": policy.minRows, "max_day_drop": policy.maxDrop,
            "max_fallback_share": policy.maxFallbackShare,
        ]
        if let previous {
            record["compared_with"] = previous.day.description
            record["previous_sessions"] = previous.sessions
        }
        if sessions == 0 && policy.allowEmptyDay { record["empty_day_allowed"] = true }
        return record
    }

    private static func drop(from before: Int, to after: Int) -> Double? {
        before > 0 ? Double(before - after) / Double(before) : nil
    }

    private static func percent(_ share: Double) -> String {
        let value = share * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }
}
