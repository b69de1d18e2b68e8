import ArgumentParser
import Foundation
import DANSeR
import FeatureStore

/// The options of every job that scores and publishes (`nightly`, `backfill`, `score`): what is
/// read, what is scored and where the outputs go. Training has its own group, `TrainingOptions`.
struct NightlyOptions: ParsableArguments {
    @Option(help: "Hours before --as-of in which a session must have clicked to be scored.")
    var activeWindowHours = Settings.current.value(.activeWindowHours, or: 24)

    @Option(help: "Days of clicks before --as-of a night reads at most (a fine-tune reads only what it needs).")
    var historyDays = Settings.current.value(.historyDays, or: 180)

    @OptionGroup(title: "Approximate scoring") var approximate: ApproximateScoringOptions

    @Option(help: "Recommendations per session (1 to 1,000).")
    var topK = Settings.current.value(.topK, or: 20)

    @Flag(inversion: .prefixedNo, help: "Never recommend items already in the session.")
    var excludeSeen = Settings.current.bool(.excludeSeen)

    @Option(help: "Threads for training and scoring (1 to 64).")
    var threads = Settings.current.value(.threads, or: 2)

    @Option(help: "Click source table (schema.table).")
    var sourceTable = Settings.current.value(.sourceTable, or: "danser.click_log")

    @Option(help: "Session id column of the source table (cast to text).")
    var sessionColumn = Settings.current.value(.sessionColumn, or: "session_id")

    @Option(help: "Item id column of the source table (cast to text).")
    var itemColumn = Settings.current.value(.itemColumn, or: "item_id")

    @Option(help: "Click time column of the source table (cast to timestamptz).")
    var timeColumn = Settings.current.value(.timeColumn, or: "event_time")

    @Option(help: "Connections that write a day's recommendations side by side, each a part of the day's ranks (1 to 16; 1: the day in one table, as Citus needs).")
    var publishStreams = Settings.current.value(.publishStreams, or: 2)

    @Option(help: "Folder for the HTML run report (default: DANSER_REPORT_DIR, else reports/ in the state folder).")
    var reportDir: String?

    @Option(help: "Folder for the Prometheus textfile danser_batch.prom (default: DANSER_METRICS_DIR; none if unset).")
    var metricsDir: String?

    @OptionGroup(title: "Day audit") var dayAudit: DayAuditOptions

    func validate() throws {
        guard (1...24 * 365).contains(activeWindowHours) else { throw ValidationError("--active-window-hours must be between 1 and 8,760.") }
        guard (1...36_500).contains(historyDays) else { throw ValidationError("--history-days must be between 1 and 36,500 (got \(historyDays)).") }
        guard (1...1_000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1,000 (got \(topK)).") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64.") }
        try Self.validatePublishStreams(publishStreams)
        for name in [sourceTable, sessionColumn, itemColumn, timeColumn] where !SQLIdentifier.isValid(name) {
            throw ValidationError("'\(name)' is not a valid table or column name: use letters, digits and underscores (schema.table for tables).")
        }
    }

    /// The check of `--publish-streams` (shared with `bench-serving`).
    static func validatePublishStreams(_ streams: Int) throws {
        guard (1...StagingTable.maximumParts).contains(streams) else {
            throw ValidationError("--publish-streams must be between 1 and \(StagingTable.maximumParts) (got \(streams)).")
        }
    }

    func settings(asOf: LogicalDate) throws -> NightlySettings {
        var settings = NightlySettings(asOf: asOf)
        settings.activeWindowHours = activeWindowHours
        settings.historyDays = historyDays
        approximate.apply(to: &settings)
        settings.topK = topK
        settings.excludeSeen = excludeSeen
        settings.threads = threads
        settings.publishStreams = publishStreams
        settings.source = try ClickLogSource(table: sourceTable, sessionColumn: sessionColumn, itemColumn: itemColumn, timeColumn: timeColumn)
        settings.metricsDirectory = metricsDir ?? Settings.current.optional(.metricsDir)
        settings.reportDirectory = reportDir ?? Settings.current.optional(.reportDir)
        settings.dayAudit = dayAudit.policy
        return settings
    }
}

/// The day audit's floors (see `DayAuditPolicy`): a day that misses one is not published.
struct DayAuditOptions: ParsableArguments {
    @Option(help: "Fewest sessions a published day may have.")
    var minSessions = Settings.current.value(.minSessions, or: 1)

    @Option(help: "Fewest recommendation rows a published day may have.")
    var minRows = Settings.current.value(.minRows, or: 1)

    @Option(help: "Largest drop in sessions or rows from the last published day, as a share (0.5 = half).")
    var maxDayDrop = Settings.current.value(.maxDayDrop, or: 0.5)

    @Option(help: "Largest share of sessions that may get the popularity fallback.")
    var maxFallbackShare = Settings.current.value(.maxFallbackShare, or: 0.5)

    @Flag(inversion: .prefixedNo, help: "Publish a day with no active session on purpose (otherwise an empty day fails its audit).")
    var allowEmptyDay = Settings.current.bool(.allowEmptyDay)

    func validate() throws {
        guard minSessions >= 0, minRows >= 0 else { throw ValidationError("--min-sessions and --min-rows must be 0 or more.") }
        guard (0...1).contains(maxDayDrop) else { throw ValidationError("--max-day-drop must be a share from 0 to 1 (got \(maxDayDrop)).") }
        guard (0...1).contains(maxFallbackShare) else { throw ValidationError("--max-fallback-share must be a share from 0 to 1 (got \(maxFallbackShare)).") }
    }

    var policy: DayAuditPolicy {
        DayAuditPolicy(minSessions: minSessions, minRows: minRows, maxDrop: maxDayDrop, maxFallbackShare: maxFallbackShare, allowEmptyDay: allowEmptyDay)
    }
}

/// When the score stage takes an approximate top-K instead of scoring every item.
struct ApproximateScoringOptions: ParsableArguments {
    @Option(help: "Score with an approximate top-K (FAISS inverted file) when the model has more than N items (default: always exact).")
    var approximateAbove: Int?

    @Option(help: "Inverted-file cells the approximate top-K scans per session (more: slower, closer to exact).")
    var approximateProbes = 32

    func validate() throws {
        if let approximateAbove, approximateAbove < 1 { throw ValidationError("--approximate-above must be 1 or more (got \(approximateAbove)).") }
        guard (1...65_536).contains(approximateProbes) else { throw ValidationError("--approximate-probes must be between 1 and 65,536.") }
    }

    func apply(to settings: inout NightlySettings) {
        settings.approximateAbove = approximateAbove
        settings.approximateProbes = approximateProbes
    }
}
