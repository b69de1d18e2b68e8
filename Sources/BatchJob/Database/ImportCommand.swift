import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch import FILE...`: loads click logs into `danser.click_log`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load click-log files into the click_log table (binary COPY, streaming; .gz read directly).",
        discussion: """
            Formats (detected from the first line, or --format): generic-csv (session_id,item_id,timestamp), \
            diginetica (raw CIKM Cup 2016 views), yoochoose (raw RecSys 2015 clicks), yoochoose-tsv \
            (SessionId<TAB>ItemId<TAB>Time), retailrocket (timestamp<TAB>user_id<TAB>item_id<TAB>session_id).
            generic-csv follows RFC 4180: quoted fields may hold commas, quotes and line breaks. A UTF-8 byte \
            order mark is ignored. Each file is one transaction. Each click is counted once: a row whose \
            (session, item, time, ordinal) is already in the click log is a duplicate and is not added again \
            (the ordinal numbers true repeats within one file); a file already imported (same bytes) is skipped \
            whole. '-' reads standard input (streamed; never skipped whole). Bad rows go to danser.quarantine \
            with file, line and reason: missing or extra fields, bad ids, timestamps unparseable, before \
            --earliest-time or more than 5 minutes in the future. Exit 0: every row imported or a duplicate; \
            3: done, some rows quarantined; 66: a file is missing, unreadable or not a regular file (a FIFO or \
            device: pipe it to '-' instead); 65: a file's format is not recognised or it is damaged.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Input format; default: detected from each file's first line.")
    var format: ClickFormat?

    @Option(help: "Longest accepted line in bytes; longer lines are quarantined.")
    var maxLineLength = 65_536

    @Option(help: "Clicks before this time (YYYY-MM-DD or ISO 8601, UTC unless an offset is given) are quarantined.")
    var earliestTime = "2000-01-01"

    @Argument(help: "Click-log files (plain or .gz); '-' reads standard input.")
    var files: [String]

    func validate() throws {
        guard maxLineLength >= 64 else { throw ValidationError("--max-line-length must be at least 64 (got \(maxLineLength)).") }
        guard earliestMicros != nil else {
            throw ValidationError("--earliest-time must be a date YYYY-MM-DD or an ISO 8601 time (got '\(earliestTime)').")
        }
        guard files.filter({ $0 == LineReader.standardInput }).count <= 1 else {
            throw ValidationError("'-' (standard input) can be given once.")
        }
    }

    var earliestMicros: Int64? {
        var text = earliestTime
        return text.withUTF8 { Timestamp.parseISO8601($0) }
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        ShutdownSignal.setLastWords(grace: 0, nil)
        let logger = Logger(label: "danser.import")
        var anyQuarantined = false
        try FailureReport.run {
            // Every file is checked before anything is imported; a FIFO or device is refused
            // before anything opens it (opening one can block for ever).
            for file in files where file != LineReader.standardInput {
                try LineReader.regularFile(file)
                if !FileManager.default.isReadableFile(atPath: file) {
                    throw InputError(code: .unreadable, path: file, detail: "permission denied")
                }
            }
            let configuration = try database.connectionConfiguration(logger: logger)
            let db = Database(configuration, logger: logger)
            // No safe points inside a file's COPY: on SIGTERM/SIGINT the envelope records
            // `interrupted` at once and exits 5; the server rolls the file's transaction back.
            let envelope = RunEnvelope(logger: logger, shutdownGrace: 0)
            envelope.connect(configuration)
            defer { envelope.end(on: nil) }
            let supervisor = RunSupervisor(policy: database.runRetryPolicy, envelope: envelope, logger: logger)
            let runID = try supervisor.run { _ in
                try Migrator(try database.migrations(), logger: logger).apply(on: try db.connection())
                // The run ledger gets one row for the whole command, closed however it ends.
                return try envelope.openRun(command: "import", asOfDay: nil, on: try db.connection())
            }
            var importer = ClickImporter(database: db, logger: logger)
            importer.maxLineLength = maxLineLength
            importer.earliestAllowedMicros = earliestMicros ?? ClickFormat.defaultEarliestMicros
            let ledger = RunLedger()
            var totals = (files: 0, skipped: 0, imported: 0, duplicate: 0, quarantined: 0)
            let started = Date()
            func closeRun(_ status: RunStatus, error: String?) {
                let counts = "{\"files\": \(totals.files), \"already_imported\": \(totals.skipped), \"imported\": \(totals.imported), "
                    + "\"new\": \(totals.imported), \"duplicate\": \(totals.duplicate), \"quarantined\": \(totals.quarantined)}"
                let timings = "{\"total_s\": \(String(format: "%.3f", Date().timeIntervalSince(started)))}"
                try? db.withRetry { connection in
                    try ledger.finish(runID: runID, status: status, modelVersion: nil, rowCountsJSON: counts, timingsJSON: timings,
                        metricsJSON: "{}", error: error, stage: RunStage.current, on: connection)
                }
            }
            do {
                for file in files {
                    RunStage.enter("import \((file as NSString).lastPathComponent)")
                    let outcome: ClickImporter.Outcome
                    do {
                        // A file is one transaction, and a file already imported is skipped: a
                        // retry after a lost connection neither loses nor duplicates a click.
                        outcome = try supervisor.run { attempt in
                            if attempt > 1 { _ = try envelope.openRun(command: "import", asOfDay: nil, on: try db.connection()) }
                            return try importer.importFile(file, format: format)
                        }
                    } catch let error as ImportError {
                        closeRun(.failed, error: error.description)
                        printError(error.description)
                        throw ExitCode(ExitStatus.dataError.rawValue)
                    }
                    print(Self.summary(outcome))
                    totals.files += 1
                    totals.skipped += outcome.alreadyImported ? 1 : 0
                    totals.imported += outcome.imported
                    totals.duplicate += outcome.duplicates
                    totals.quarantined += outcome.quarantined
                    anyQuarantined = anyQuarantined || outcome.quarantined > 0
                }
            } catch let error as ExitCode {
                throw error
            } catch {
                let interrupted = (error as? JobError)?.code == .interrupted
                closeRun(interrupted ? .interrupted : .failed, error: "\(error)".split(separator: "\n").first.map(String.init))
                throw error
            }
            closeRun(.succeeded, error: nil)
            print("peak memory: \(Int(ProcessMemory.peakMiB())) MiB")
        }
        if anyQuarantined { throw ExitCode(ExitStatus.quarantined.rawValue) }
    }

    static func summary(_ outcome: ClickImporter.Outcome) -> String {
        if outcome.alreadyImported {
            return "\(outcome.file): already imported (import \(outcome.importID)); nothing to do"
        }
        var text = "\(outcome.file): \(outcome.imported) rows new, \(outcome.duplicates) duplicate, \(outcome.quarantined) quarantined "
            + "(\(outcome.format.rawValue), import \(outcome.importID), \(String(format: "%.2f", outcome.seconds)) s)"
        if outcome.quarantined > 0 {
            let kinds = outcome.quarantinedByKind.sorted { $0.value > $1.value }.map { "\($0.key.rawValue): \($0.value)" }
            text += "\n  quarantined: " + kinds.joined(separator: ", ")
            text += "\n  see: SELECT line_number, reason, raw_line FROM danser.quarantine WHERE import_id = \(outcome.importID) ORDER BY line_number"
        }
        return text
    }
}
