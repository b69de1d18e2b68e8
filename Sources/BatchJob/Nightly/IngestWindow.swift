import DANSeR
import FeatureStore
import Foundation

/// The clicks a night reads: the sessions that click in `[from, until)`, each whole (clicks up to
/// `sessionMarginMicros` before `from` are read too, so a session that crosses the start keeps its
/// beginning). Bounded by `--history-days`, so the night costs the same however old the log is.
struct IngestWindow: Sendable, Equatable {
    enum Kind: String, Sendable {
        /// `--history-days` before as-of: a retrain, and every run that only scores.
        case history
        /// What a fine-tune needs: its training window and the evaluation days, or from the base
        /// model's watermark (its last training click) if that is earlier; never past the history window.
        case fineTune = "fine-tune"
    }

    var kind: Kind
    var fromMicros: Int64
    var untilMicros: Int64

    /// Clicks this long before the window are read for the sessions that cross its start (one day;
    /// a session longer than that loses its oldest clicks, as training cuts long sessions anyway).
    static let sessionMarginMicros: Int64 = 86_400_000_000

    var readFromMicros: Int64 { fromMicros - Self.sessionMarginMicros }

    static func history(_ settings: NightlySettings) -> IngestWindow {
        IngestWindow(kind: .history, fromMicros: settings.historyStartMicros, untilMicros: settings.asOf.startMicros)
    }

    /// The fine-tune window of `settings` for a base model trained through `watermarkMicros`.
    static func fineTune(_ settings: NightlySettings, watermarkMicros: Int64) -> IngestWindow {
        let needed = min(settings.fineTuneStartMicros, watermarkMicros)
        return IngestWindow(kind: .fineTune, fromMicros: max(needed, settings.historyStartMicros), untilMicros: settings.asOf.startMicros)
    }

    /// The window a run reads, decided before reading from what is known without the clicks: a
    /// night that will surely retrain (asked to, no base model, the weekly retrain or a changed
    /// configuration) reads the history window; one that may fine-tune reads the fine-tune window,
    /// and `PrepareStage` reads the history window after all if the clicks make it retrain
    /// (catalogue growth, no recent sessions). Runs that only score read the history window.
    static func choose(for settings: NightlySettings, registry: ModelRegistry, on connection: Connection) throws -> IngestWindow {
        guard case .nightly = settings.pipeline, settings.mode != .retrain else { return history(settings) }
        let base = try BaseModel.choose(for: settings.asOf, registry: registry, on: connection)
        guard let record = base.record else { return history(settings) }
        if settings.mode == .auto {
            let champion = TrainingModeRule.Champion(
                lastRetrainAsOf: LogicalDate(day: Int64(try registry.lastRetrainAsOfDay(of: record.version, on: connection) ?? record.asOfDay)),
                itemCount: record.itemCount, configurationName: NightlyJob.configurationName(of: record))
            let (mode, _) = settings.modeRule.decide(
                asOf: settings.asOf, champion: champion, itemCount: record.itemCount, configurationName: settings.configurationName)
            if mode == .retrain { return history(settings) }
        }
        return fineTune(settings, watermarkMicros: record.trainedThroughMicros)
    }

    /// Reads the window from `source`: usable clicks into the result (sessions that ended before
    /// the window dropped), unusable rows (no session, item or time) listed for quarantine.
    func read(_ source: ClickLogSource, on connection: Connection, progress: ProgressReporter? = nil) throws -> IngestedClicks {
        var clicks = IngestedClicks()
        clicks.window = self
        clicks.rowsRead = try source.read(on: connection, before: untilMicros, from: readFromMicros) { row in
            switch row {
            case .click(let session, let item, let time):
                clicks.append(session: session, item: item, time: time)
            case .unusable(let reason, let session, let item):
                clicks.unusable.append(QuarantinedRow(
                    source: source.table, lineNumber: nil, reason: reason, rawLine: "\(session ?? "NULL"),\(item ?? "NULL")"))
            }
            progress?.advance()
        }
        clicks.keepSessions(clickingFrom: fromMicros)
        return clicks
    }

    /// How the ledger records the window (under the ingest stage's, or prepare's when it widened it).
    var ledgerRecord: [String: Any] {
        [
            "window": kind.rawValue, "window_from": Timestamp.format(micros: fromMicros),
            "window_until": Timestamp.format(micros: untilMicros), "read_from": Timestamp.format(micros: readFromMicros),
        ]
    }
}
