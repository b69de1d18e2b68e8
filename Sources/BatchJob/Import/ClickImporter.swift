import FeatureStore
import Foundation
import Logging

/// Loads one click file into `danser.click_log`, in one transaction with its `danser.imports`
/// row and its quarantined rows: a failed import leaves nothing. Each click is counted once,
/// however it arrives: rows are binary-COPYed into a temporary table, then only those whose
/// natural key is not in the log yet are added (see `naturalKeyRule`). A file already imported
/// whole (same SHA-256) is skipped without reading it.
struct ClickImporter {
    /// The documented identity of a click (migration 0008, docs/OPERATIONS.md). The ordinal is
    /// computed without sorting the file: a fixed-size filter marks the rows whose key may have
    /// come earlier in the file, and only those are counted exactly, by one hash join.
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
        var seen = RepeatFilter()
        var timeRange = (first: Int64.max, last: Int64.min)
        try connection.execute(script: Self.stagingTable)
        let staged = try connection.copyIn(
            "COPY pg_temp.click_import (session_id, item_id, event_time, line, maybe_repeat) FROM STDIN (FORMAT binary)"
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
                    try writer.beginRow(fieldCount: 5)
                    Self.append(session, from: line, to: &writer)
                    Self.append(item, from: line, to: &writer)
                    writer.appendTimestamp(micros: micros)
                    writer.appendInt64(Int64(number))
                    writer.append(.bool(seen.insert(RepeatFilter.hash(session, item, micros, in: line))))
                    timeRange = (min(timeRange.first, micros), max(timeRange.last, micros))
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
        outcome.imported = try addFirstOccurrences(importID: importID, timeRange: timeRange, on: connection)
        try connection.execute(script: Self.collectPossibleRepeats)
        outcome.imported += try connection.query(Self.addPossibleRepeats, [.int64(importID)]).affectedRows
        outcome.duplicates = staged - outcome.imported
        try connection.execute(script: "DROP TABLE pg_temp.click_import; DROP TABLE pg_temp.click_import_repeats")
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

    /// Adds the certain first occurrences. When the log holds no click in the file's time range
    /// (a new file, the usual case) nothing can conflict and a plain INSERT skips the per-row
    /// conflict check; should a concurrent import add one meanwhile, the statement is undone to a
    /// savepoint and redone with the check.
    private func addFirstOccurrences(importID: Int64, timeRange: (first: Int64, last: Int64), on connection: Connection) throws -> Int {
        let overlaps = timeRange.first > timeRange.last ? false : try connection.query(
            "SELECT EXISTS (SELECT FROM danser.click_log WHERE event_time BETWEEN $1 AND $2)",
            [.timestamptz(timeRange.first), .timestamptz(timeRange.last)]
        ).scalar()?.boolValue ?? true
        if !overlaps {
            try connection.execute(script: "SAVEPOINT click_import_fast")
            do {
                let added = try connection.query(Self.addFirstOccurrencesUnchecked, [.int64(importID)]).affectedRows
                try connection.execute(script: "RELEASE SAVEPOINT click_import_fast")
                return added
            } catch let error as FeatureStoreError where error.sqlState == "23505" {
                try connection.execute(script: "ROLLBACK TO SAVEPOINT click_import_fast")
            }
        }
        return try connection.query(Self.addFirstOccurrences, [.int64(importID)]).affectedRows
    }

    private func configure(_ reader: LineReader, for format: ClickFormat) {
        // RFC 4180 quoting (fields holding separators, quotes or line breaks) in the project's CSV.
        reader.quotedNewlines = format == .genericCSV
        reader.separator = format.separator
    }

    /// The rows of one file before they are checked against the log; dropped at commit.
    /// `maybe_repeat` is false for a row whose key is certainly the first of its kind in the file.
    static let stagingTable = """
        CREATE TEMPORARY TABLE IF NOT EXISTS click_import (
            session_id text NOT NULL, item_id text NOT NULL, event_time timestamptz NOT NULL, line bigint NOT NULL,
            maybe_repeat boolean NOT NULL
        ) ON COMMIT DROP;
        TRUNCATE pg_temp.click_import;
        """

    /// Adds, with ordinal 1, the staged rows that are certainly the first of their key in the
    /// file and whose click is not in the log yet (`$1`: import id). No sort: file order, as COPY.
    static let addFirstOccurrences = """
        INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
        SELECT session_id, item_id, event_time, 1, $1 FROM pg_temp.click_import WHERE NOT maybe_repeat
        ON CONFLICT (session_id, item_id, event_time, ordinal) DO NOTHING
        """

    /// `addFirstOccurrences` for a log with no click in the file's time range: nothing to skip.
    static let addFirstOccurrencesUnchecked = """
        INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
        SELECT session_id, item_id, event_time, 1, $1 FROM pg_temp.click_import WHERE NOT maybe_repeat
        """

    /// The few rows that may repeat an earlier row's key (true repeats, and the filter's false
    /// positives), analyzed so the planner hashes them rather than the whole file.
    static let collectPossibleRepeats = """
        CREATE TEMPORARY TABLE click_import_repeats ON COMMIT DROP AS
            SELECT session_id, item_id, event_time, line FROM pg_temp.click_import WHERE maybe_repeat;
        ANALYZE pg_temp.click_import_repeats;
        """

    /// Adds those rows with their exact ordinal, the number of rows of the file with the same key
    /// up to and including them, when not in the log yet (`$1`: import id).
    static let addPossibleRepeats = """
        INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
        SELECT r.session_id, r.item_id, r.event_time, count(*)::integer, $1
        FROM pg_temp.click_import_repeats r
        JOIN pg_temp.click_import f
          ON f.session_id = r.session_id AND f.item_id = r.item_id AND f.event_time = r.event_time AND f.line <= r.line
        GROUP BY r.line, r.session_id, r.item_id, r.event_time
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

/// A Bloom filter over the click keys of one file: `insert` says whether a key may have been seen
/// before (false: certainly not). Fixed size (16 MiB), so memory stays bounded whatever the file;
/// a bigger file only sends more rows down the slower, exact path.
struct RepeatFilter {
    private var words: [UInt64]
    private let mask: UInt64

    init(log2Bits: Int = 27) {
        words = [UInt64](repeating: 0, count: 1 << (log2Bits - 6))
        mask = (UInt64(1) << UInt64(log2Bits)) &- 1
    }

    /// Sets the key's bits; true when all were already set (the key may have been seen).
    mutating func insert(_ hash: UInt64) -> Bool {
        let step = (hash >> 29) | 1
        var seen = true
        for probe in 0..<UInt64(3) {
            let bit = (hash &+ probe &* step) & mask
            let word = Int(bit >> 6), flag = UInt64(1) << (bit & 63)
            if words[word] & flag == 0 {
                seen = false
                words[word] |= flag
            }
        }
        return seen
    }

    /// A 64-bit hash of (session, item, time): FNV-1a over the ids' bytes, then a finalizer.
    static func hash(_ session: ClickID, _ item: ClickID, _ micros: Int64, in line: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        func mix(_ id: ClickID) {
            switch id {
            case .range(let range): for index in range { mix(line[index]) }
            case .text(let text): for byte in text.utf8 { mix(byte) }
            }
            mix(0xFF)  // never in UTF-8: keeps ("ab", "c") apart from ("a", "bc")
        }
        mix(session)
        mix(item)
        value ^= UInt64(bitPattern: micros) &* 0x9E37_79B9_7F4A_7C15
        value = (value ^ (value >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return value ^ (value >> 29)
    }
}
