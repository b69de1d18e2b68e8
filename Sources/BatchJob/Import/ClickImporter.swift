import FeatureStore
import Foundation
import Logging

/// Loads one click file into `danser.click_log`, in one transaction with its `danser.imports`
/// row and its quarantined rows: a failed import leaves nothing. Each click is counted once,
/// however it arrives: rows are binary-COPYed into a temporary table, then only those whose
/// natural key is not in the log yet are added (see `naturalKeyRule`). A file already imported
/// whole (same SHA-256) is skipped without reading it.
struct ClickImporter {
    /// The documented identity of a click (migration 0008, docs/OPERATIONS.md).
    static let naturalKeyRule = """
        A click is (session id, item id, event time, ordinal): the ordinal numbers true repeats of \
        the same (session, item, time) within one file in file order (1, 2, ...). A row whose key \
        is already in the click log is a duplicate and is not added again.
        """

    struct Outcome {
        var file: String
        var format: ClickFormat
        var importID: Int64
        /// Rows added to the click log (new clicks).
        var imported = 0
        /// Valid rows whose click was already in the click log.
        var duplicates = 0
        var quarantined = 0
        var quarantinedByKind: [RowProblem.Kind: Int] = [:]
        /// True when the same file had been imported before; nothing was done.
        var alreadyImported = false
        var seconds = 0.0
    }

    let database: Database
    let logger: Logger
    /// Lines longer than this are quarantined as too long. Default 64 KiB.
    var maxLineLength = 65_536
    /// Timestamps later than this (microseconds since the epoch) are "in the future". Default: now + 5 min.
    var latestAllowedMicros = Int64(Date().timeIntervalSince1970 * 1_000_000) + 300_000_000
    /// Timestamps earlier than this are quarantined. Default 2000-01-01T00:00:00Z.
    var earliestAllowedMicros = ClickFormat.defaultEarliestMicros
    /// Draw progress (on a terminal) or log it (otherwise).
    var showProgress = true

    /// Imports `path` (`-`: standard input, streamed; never skipped whole).
    func importFile(_ path: String, format requested: ClickFormat?) throws -> Outcome {
        let started = Date()
        let isStandardInput = path == LineReader.standardInput
        let name = isStandardInput ? "(standard input)" : (path as NSString).lastPathComponent
        // Refused before anything opens it: opening a FIFO blocks.
        if !isStandardInput { try LineReader.regularFile(path) }
        let digest = isStandardInput ? nil : try Self.sha256(ofFile: path)
        var outcome = try database.withTransaction { connection in
            try load(path, name: name, digest: digest, format: requested, connection: connection)
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    private func load(_ path: String, name: String, digest: String?, format requested: ClickFormat?, connection: Connection) throws -> Outcome {
        if let digest,
            let existing = try connection.query("SELECT import_id, format FROM danser.imports WHERE file_sha256 = $1", [.text(digest)]).rows().first
        {
            return Outcome(file: name, format: existing[1].stringValue.flatMap(ClickFormat.init(rawValue:)) ?? requested ?? .genericCSV,
                importID: existing[0].int64Value ?? 0, alreadyImported: true)
        }
        // Standard input has no identity before it is read: a unique placeholder.
        let identity = digest ?? "stdin:" + UUID().uuidString.lowercased()
        guard let importID = try connection.query(
            "INSERT INTO danser.imports (file_name, file_sha256, format) VALUES ($1, $2, $3) RETURNING import_id",
            [.text(name), .text(identity), .text(requested?.rawValue ?? "unknown")]
        ).scalar()?.int64Value else {
            throw FeatureStoreError(.queryFailed, "recording the import of \(name) returned no id")
        }
        let reader = try LineReader(path: path, maxLineLength: maxLineLength)
        var format = requested
        if let requested { configure(reader, for: requested) }
        let spool = try QuarantineSpool()
        let progress = showProgress ? ProgressReporter(label: "import \(name)", total: reader.fileSize, unit: "B", logger: logger) : nil
        let (earliest, latest) = (earliestAllowedMicros, latestAllowedMicros)
        try connection.execute(script: Self.stagingTable)
        let staged = try connection.copyIn(
            "COPY pg_temp.click_import (session_id, item_id, event_time, line) FROM STDIN (FORMAT binary)"
        ) { writer in
            try reader.forEachLine { number, line, truncated in
                if number == 1 {
                    if format == nil {
                        guard let detected = ClickFormat.detect(firstLine: line) else { throw Self.unknownFormat(path) }
                        format = detected
                        configure(reader, for: detected)
                    }
                    if format!.isHeader(line) { return }
                }
                switch format!.parse(line, truncated: truncated, latestAllowed: latest, earliestAllowed: earliest) {
                case .ok(let session, let item, let micros):
                    try writer.beginRow(fieldCount: 4)
                    Self.append(session, from: line, to: &writer)
                    Self.append(item, from: line, to: &writer)
                    writer.appendTimestamp(micros: micros)
                    writer.appendInt64(Int64(number))
                case .problem(let problem):
                    try spool.add(importID: importID, source: name, line: number, problem: problem, raw: line)
                }
                if number & 0xFFFF == 0 { progress?.update(completed: reader.bytesConsumed) }
            }
        }
        guard let format else { throw Self.unknownFormat(path) }  // an empty file
        progress?.update(completed: reader.fileSize ?? reader.bytesConsumed)
        progress?.finish()
        var outcome = Outcome(file: name, format: format, importID: importID)
        outcome.imported = try connection.query(Self.addNewClicks, [.int64(importID)]).affectedRows
        outcome.duplicates = staged - outcome.imported
        try connection.execute(script: "DROP TABLE pg_temp.click_import")
        try spool.copy(into: connection)
        outcome.quarantined = spool.count
        outcome.quarantinedByKind = spool.countsByKind
        try connection.query(
            """
            UPDATE danser.imports SET rows_imported = $2, rows_duplicate = $3, rows_quarantined = $4, format = $5,
                finished_at = clock_timestamp() WHERE import_id = $1
            """,
            [.int64(importID), .int(outcome.imported), .int(outcome.duplicates), .int(outcome.quarantined), .text(format.rawValue)])
        return outcome
    }

    private func configure(_ reader: LineReader, for format: ClickFormat) {
        // RFC 4180 quoting (fields holding separators, quotes or line breaks) in the project's CSV.
        reader.quotedNewlines = format == .genericCSV
        reader.separator = format.separator
    }

    /// The rows of one file before they are checked against the log; dropped at commit.
    static let stagingTable = """
        CREATE TEMPORARY TABLE IF NOT EXISTS click_import (
            session_id text NOT NULL, item_id text NOT NULL, event_time timestamptz NOT NULL, line bigint NOT NULL
        ) ON COMMIT DROP;
        TRUNCATE pg_temp.click_import;
        """

    /// Adds the staged clicks not yet in the log, numbering repeats within the file (the
    /// ordinal of the natural key); `$1` is the import id. Sorting by the key also makes the
    /// unique index's insertions sequential.
    static let addNewClicks = """
        INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
        SELECT session_id, item_id, event_time,
               row_number() OVER (PARTITION BY session_id, item_id, event_time ORDER BY line), $1
        FROM pg_temp.click_import
        ON CONFLICT (session_id, item_id, event_time, ordinal) DO NOTHING
        """

    static func unknownFormat(_ path: String) -> ImportError {
        ImportError(
            "cannot tell the format of \(path == LineReader.standardInput ? "standard input" : path) from its first line; "
                + "pass --format (one of \(ClickFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
    }

    private static func append(_ id: ClickID, from line: UnsafeBufferPointer<UInt8>, to writer: inout BinaryCopyWriter) {
        switch id {
        case .range(let range): writer.appendBytes(UnsafeBufferPointer(rebasing: line[range]))
        case .text(let text): writer.appendText(text)
        }
    }

    /// SHA-256 of the file's bytes as stored: the identity that makes re-imports no-ops.
    static func sha256(ofFile path: String) throws -> String {
        guard let file = fopen(path, "rb") else {
            throw InputError(code: errno == EACCES ? .unreadable : .notFound, path: path, detail: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if read == 0 { break }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
        }
        return SHA256.hex(hasher.finalize())
    }
}

/// A whole file that cannot be imported as given (its format cannot be recognised).
struct ImportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
