import FeatureStore
import Foundation

/// Stage: write-audit-publish for the day. In one transaction: the champion is locked and must
/// still be the one the scoring model was chosen against (compare-and-swap), a shard records
/// itself (the shard that completes the set merges them all), the whole day is audited against
/// the floors and the last audited day, and only then swapped in with its audit. A day that fails
/// stays in staging for inspection; nothing becomes visible.
struct PublishRecommendationsStage: Stage {
    static let name = StageName.publishRecommendations

    struct Output: StageResult {
        var published: Bool
        var remainingShards: Int
        var audit: [String: Any]
        var ledgerRecord: [String: Any] { ["published": published, "remaining_shards": remainingShards, "audit": audit] }
    }

    let shard: ShardSpec

    func callAsFunction(_ staged: ScoreStage.Output, in context: RunContext) throws -> Output {
        let settings = context.settings
        let day = Int32(settings.asOf.day)
        let publisher = context.publisher
        let output = try context.connection.withTransaction { connection -> Output in
            let champion = try context.registry.lockedChampionVersion(on: connection)
            guard champion == staged.championAtChoice else {
                throw JobError(.auditFailed, """
                    the champion changed from \(Self.name(staged.championAtChoice)) to \(Self.name(champion)) while \(settings.asOf) was being \
                    scored with model \(staged.modelVersion) (a promote, a rollback or another run): the day was not published; run it again
                    """)
            }
            let championCheck = "champion \(Self.name(champion)) unchanged since the scoring model was chosen"
            var sessions = staged.sessions
            var rows = staged.rows
            var fallback = staged.fallbackSessions
            if shard.count > 1 {
                let remaining = try publisher.recordShard(
                    day: day, shard: shard.index, of: shard.count, runID: context.runID, modelVersion: staged.modelVersion,
                    sessions: staged.sessions, rows: staged.rows, fallbackSessions: staged.fallbackSessions, on: connection)
                if remaining > 0 { return Output(published: false, remainingShards: remaining, audit: [:]) }
                let totals = try publisher.shardTotals(day: day, shards: shard.count, on: connection)
                (sessions, rows, fallback) = (totals.sessions, totals.rows, totals.fallbackSessions)
                _ = try publisher.mergeShards(day: day, shards: shard.count, on: connection)
            }
            let previous = try publisher.lastAudited(before: day, on: connection).map {
                DayAudit.Previous(day: LogicalDate(day: Int64($0.day)), sessions: $0.sessions, rows: $0.rows)
            }
            let audit = DayAudit(day: settings.asOf, sessions: sessions, rows: rows, fallbackSessions: fallback, previous: previous, policy: settings.dayAudit)
            let problems = audit.problems
            guard problems.isEmpty else {
                throw JobError(.auditFailed, "day \(settings.asOf) failed its audit and was not published (it stays in staging): " + problems.joined(separator: "; "))
            }
            var record = audit.record(championCheck: championCheck)
            record["served"] = staged.served
            FaultInjection.hold(at: "swap")
            try ShutdownSignal.check("publishing")
            try publisher.publish(day: day, runID: context.runID, modelVersion: staged.modelVersion, sessions: sessions, auditJSON: JSON.encode(record), on: connection)
            // Swapped in but not committed: a stop here must leave the previous day current.
            FaultInjection.hold(at: "commit")
            try ShutdownSignal.check("publishing")
            return Output(published: true, remainingShards: 0, audit: record)
        }
        if shard.count > 1 {
            context.summary.notes.append(output.published
                ? "Shard \(shard) completed the set: the day was audited and published."
                : "Shard \(shard) staged; waiting for \(output.remainingShards) more shard(s) before the day is audited and published.")
            context.logger.info("shard staged", metadata: ["shard": "\(shard)", "remaining": "\(output.remainingShards)"])
        }
        if output.published && staged.sessions == 0 && shard.count == 1 {
            context.summary.notes.append("No session was active in the last \(settings.activeWindowHours) hours: an empty day was published (--allow-empty-day).")
        }
        context.logger.info(output.published ? "recommendations published" : "recommendations staged", metadata: [
            "sessions": "\(staged.sessions)", "rows": "\(staged.rows)", "model": "\(staged.modelVersion)",
        ])
        return output
    }

    private static func name(_ version: Int64?) -> String { version.map { "model \($0)" } ?? "none" }
}
