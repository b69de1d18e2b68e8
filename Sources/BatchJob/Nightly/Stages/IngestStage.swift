import DANSeR
import FeatureStore
import Foundation

/// Stage 2: the clicks of the night's window (`IngestWindow`: the history window, or what a
/// fine-tune needs) by binary COPY; unusable rows to quarantine. The source is checked first (the
/// table, its columns, a time column of a time type), and a source with no click in the scoring
/// window fails the audit: an empty night is never published by accident.
struct IngestStage: Stage {
    static let name = StageName.ingest

    struct Output: StageResult {
        var clicks: IngestedClicks
        /// Clicks in the active window before as-of (what is scored).
        var recentClicks: Int
        var ledgerRecord: [String: Any] {
            var record: [String: Any] = [
                "clicks": clicks.clickCount, "sessions": clicks.sessionCount, "quarantined": clicks.unusable.count,
                "recent_clicks": recentClicks, "rows_read": clicks.rowsRead,
            ]
            if let window = clicks.window { record.merge(window.ledgerRecord) { $1 } }
            return record
        }
    }

    func callAsFunction(_ input: Void, in context: RunContext) throws -> Output {
        let settings = context.settings
        if let problem = settings.historyWindowProblem { throw JobError(.usage, problem) }
        try Self.checkSource(settings.source, on: context.connection)
        let window = try IngestWindow.choose(for: settings, registry: context.registry, on: context.connection)
        let clicks = try Self.read(window, in: context)
        context.summary.syntheticData = !clicks.sessionIDs.isEmpty && clicks.sessionIDs.allSatisfy { $0.hasPrefix("synthetic-") }
        context.summary.counts["quarantined"] = clicks.unusable.count

        let since = settings.activeSinceMicros
        let recent = clicks.clickTime.lazy.filter { $0 >= since }.count
        if recent == 0 && !settings.dayAudit.allowEmptyDay {
            throw JobError(.auditFailed, """
                \(settings.source.table) has no clicks between \(Timestamp.format(micros: since)) and \(Timestamp.format(micros: settings.asOf.startMicros)) \
                (the --active-window-hours before --as-of \(settings.asOf)): nothing to score, the day was not published. \
                Check --as-of, --source-table and that the day's clicks were loaded; --allow-empty-day publishes an empty day on purpose
                """)
        }
        return Output(clicks: clicks, recentClicks: recent)
    }

    /// Reads `window` from the run's source, quarantines its unusable rows (each once, however
    /// many nights read it) and counts what was read in the run's summary.
    static func read(_ window: IngestWindow, in context: RunContext) throws -> IngestedClicks {
        let settings = context.settings
        let progress = ProgressReporter(label: "ingest", total: nil, unit: "clicks", logger: context.logger)
        let clicks = try window.read(settings.source, on: context.connection, progress: progress)
        progress.finish()
        if !clicks.unusable.isEmpty {
            let new = try QuarantineStore().addNew(clicks.unusable, runID: context.runID, on: context.connection)
            context.logger.warning("rows of the click source are unusable and quarantined", metadata: ["rows": "\(clicks.unusable.count)", "new": "\(new)"])
        }
        context.summary.counts["clicks"] = clicks.clickCount
        context.summary.counts["sessions"] = clicks.sessionCount
        context.logger.info("ingested", metadata: [
            "clicks": "\(clicks.clickCount)", "sessions": "\(clicks.sessionCount)", "rows_read": "\(clicks.rowsRead)",
            "window": "\(window.kind.rawValue)", "from": "\(Timestamp.format(micros: window.fromMicros))", "source": "\(settings.source)",
        ])
        return clicks
    }

    /// Types a time column may have: read as timestamptz without guessing a format.
    static let timeTypes: Set<String> = ["timestamp with time zone", "timestamp without time zone", "date"]

    /// The source table exists, has the configured columns, and its time column has a time type;
    /// otherwise a configuration error naming the option to fix.
    static func checkSource(_ source: ClickLogSource, on connection: Connection) throws {
        guard let types = try source.columnTypes(on: connection) else {
            throw JobError(.configuration, "the click source table \(source.table) (--source-table) does not exist: check the name, or import clicks into danser.click_log")
        }
        for (column, option) in [(source.sessionColumn, "--session-column"), (source.itemColumn, "--item-column"), (source.timeColumn, "--time-column")] where types[column] == nil {
            throw JobError(.configuration, "the click source table \(source.table) has no column \(column) (\(option)): name the column that holds it")
        }
        if let type = types[source.timeColumn], !timeTypes.contains(type) {
            throw JobError(.configuration, """
                the time column \(source.timeColumn) (--time-column) of \(source.table) is of type \(type); it must be \
                timestamp with time zone, timestamp or date: point --time-column at such a column, or read a view that converts it
                """)
        }
    }
}
