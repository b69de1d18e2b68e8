import FeatureStore
import Foundation
import Logging

/// Loads one click file into `danser.click_log`, in one transaction with its `danser.imports`
/// row and its quarantined rows: a failed import leaves nothing. Each click is counted once,
/// however it arrives (see `naturalKeyRule`). A file already imported whole (same SHA-256) is
/// skipped without reading it. A file is first COPYed straight into the log; the first row
/// already there undoes that and the file is read again into a temporary table, from which only
/// the rows not in the log yet are added (standard input, read once, always goes that way).
/// The SQL is `ClickImportStore`'s.
struct ClickImporter {
    /// The documented identity of a click (migration 0008, docs/OPERATIONS.md). The ordinal is
    /// computed without sorting the file: a fixed-size filter marks the rows whose key may have
    /// come earlier in the file, and only those are counted exactly, by one hash join.
    static let naturalKeyRule = """
        A click is (session id, item id, event time, ordinal): the ordinal numbers true repeats of \
        the same (session, item, time) within one file in file order (1, 2, ...). A row whose key \
        is already in the click log is a duplicate and is not added again.
        """

    /// How the rows of a file reached the log.
    enum Path: String {
        /// COPYed straight into the log (no row of it was there yet).
        case direct
        /// Through a temporary table, each row checked against the log.
        case staged
    }

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
        /// How the rows were added (nil when nothing was read).
        var path: Path?
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
    /// Size of the repeat filter, as log2 of its bits. Default 27 (16 MiB); tests make it tiny
    /// so that most rows take the exact path.
    var repeatFilterLog2Bits = 27
    /// Try the direct COPY first for files. Default true; false always stages.
    var tryDirect = true

    private let store = ClickImportStore()

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
        if let digest, let existing = try store.existingImport(sha256: digest, on: connection) {
            return Outcome(file: name, format: ClickFormat(rawValue: existing.format) ?? requested ?? .genericCSV,
                importID: existing.id, alreadyImported: true)
        }
        // Standard input has no identity before it is read: a unique placeholder.
        let identity = digest ?? "stdin:" + UUID().uuidString.lowercased()
        let importID = try store.begin(fileName: name, identity: identity, format: requested?.rawValue ?? "unknown", on: connection)
        var format = requested
        var outcome: Outcome
        // A file that starts with clicks already in the log (re-exported, appended to, a prefix,
        // recompressed) is staged at once; one that meets them later falls back when it does.
        var direct = tryDirect && digest != nil
        if direct { direct = try !startsWithLoggedClicks(path, name: name, format: &format, connection: connection) }
        if direct, let copied = try loadDirect(path, name: name, importID: importID, format: &format, connection: connection) {
            outcome = copied
        } else {
            if direct { logger.info("some clicks of \(name) are already in the log: reading it again to add only the new ones") }
            outcome = try loadStaged(path, name: name, importID: importID, format: &format, connection: connection)
        }
        try store.finish(importID: importID, imported: outcome.imported, duplicates: outcome.duplicates,
            quarantined: outcome.quarantined, format: outcome.format.rawValue, on: connection)
        return outcome
    }

    /// Rows looked at by `startsWithLoggedClicks`.
    static let peekRows = 100

    /// Whether any of the first `peekRows` valid rows of the file is already in the click log.
    private func startsWithLoggedClicks(_ path: String, name: String, format: inout ClickFormat?, connection: Connection) throws -> Bool {
        var keys: [(session: String, item: String, micros: Int64)] = []
        try readRows(path, name: name, importID: 0, format: &format, quarantine: nil) { session, item, micros, _, line in
            keys.append((Self.string(session, in: line), Self.string(item, in: line), micros))
            if keys.count == Self.peekRows { throw StopReading() }
        }
        return try store.containsAny(of: keys, on: connection)
    }

    /// Thrown by a row handler to stop `readRows` early.
    private struct StopReading: Error {}

    /// COPYs the rows straight into the log, setting aside those that may repeat an earlier
    /// row's key. Nil when a row was already in the log (nothing was added).
    private func loadDirect(_ path: String, name: String, importID: Int64, format: inout ClickFormat?, connection: Connection) throws -> Outcome? {
        let spool = try QuarantineSpool()
        let repeats = try RowSpool(of: "possibly repeated clicks")
        var seen = RepeatFilter(log2Bits: repeatFilterLog2Bits)
        var detected = format
        let copied = try store.copyNewClicks(on: connection) { writer in
            try readRows(path, name: name, importID: importID, format: &detected, quarantine: spool) { session, item, micros, number, line in
                if seen.insert(RepeatFilter.hash(session, item, micros, in: line)) {
                    try repeats.writer.beginRow(fieldCount: ClickImportStore.repeatFieldCount)
                    Self.append(session, from: line, to: &repeats.writer)
                    Self.append(item, from: line, to: &repeats.writer)
                    repeats.writer.appendTimestamp(micros: micros)
                    repeats.writer.appendInt64(Int64(number))
                } else {
                    try writer.beginRow(fieldCount: ClickImportStore.directFieldCount)
                    Self.append(session, from: line, to: &writer)
                    Self.append(item, from: line, to: &writer)
                    writer.appendTimestamp(micros: micros)
                    writer.appendInt64(importID)
                }
            }
        }
        format = detected
        guard let copied else { return nil }
        guard let format else { throw Self.unknownFormat(path) }  // an empty file
        var outcome = Outcome(file: name, format: format, importID: importID, path: .direct)
        outcome.imported = copied
        if repeats.count > 0 {
            let (added, given) = try store.addPossibleRepeats(importID: importID, on: connection) { send in try repeats.replay(send) }
            outcome.imported += added
            outcome.duplicates = given - added
        }
        try spool.copy(into: connection)
        outcome.quarantined = spool.count
        outcome.quarantinedByKind = spool.countsByKind
        return outcome
    }

    /// COPYs the rows into a temporary table, then adds those not in the log yet.
    private func loadStaged(_ path: String, name: String, importID: Int64, format: inout ClickFormat?, connection: Connection) throws -> Outcome {
        let spool = try QuarantineSpool()
        var seen = RepeatFilter(log2Bits: repeatFilterLog2Bits)
        var timeRange = (first: Int64.max, last: Int64.min)
        var detected = format
        try store.createStaging(on: connection)
        let staged = try connection.copyIn(ClickImportStore.stagingCopy) { writer in
            try readRows(path, name: name, importID: importID, format: &detected, quarantine: spool) { session, item, micros, number, line in
                try writer.beginRow(fieldCount: ClickImportStore.stagingFieldCount)
                Self.append(session, from: line, to: &writer)
                Self.append(item, from: line, to: &writer)
                writer.appendTimestamp(micros: micros)
                writer.appendInt64(Int64(number))
                writer.append(.bool(seen.insert(RepeatFilter.hash(session, item, micros, in: line))))
                timeRange = (min(timeRange.first, micros), max(timeRange.last, micros))
            }
        }
        format = detected
        guard let format else { throw Self.unknownFormat(path) }  // an empty file
        var outcome = Outcome(file: name, format: format, importID: importID, path: .staged)
        outcome.imported = try store.addStaged(importID: importID, timeRange: timeRange, on: connection)
        outcome.duplicates = staged - outcome.imported
        try spool.copy(into: connection)
        outcome.quarantined = spool.count
        outcome.quarantinedByKind = spool.countsByKind
        return outcome
    }

    /// Reads the file once: detects the format from the first line when not given, skips a
    /// header, quarantines bad rows, and hands each good row to `row` (session, item, time in
    /// microseconds, line number, the line's bytes), drawing progress. Without a quarantine
    /// (a first look) bad rows are skipped and no progress is drawn; `row` may throw
    /// `StopReading` to stop early.
    private func readRows(
        _ path: String, name: String, importID: Int64, format: inout ClickFormat?, quarantine: QuarantineSpool?,
        _ row: (ClickID, ClickID, Int64, Int, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        let reader = try LineReader(path: path, maxLineLength: maxLineLength)
        if let format { configure(reader, for: format) }
        let progress = showProgress && quarantine != nil
            ? ProgressReporter(label: "import \(name)", total: reader.fileSize, unit: "B", logger: logger) : nil
        let (earliest, latest) = (earliestAllowedMicros, latestAllowedMicros)
        var current = format
        defer { format = current }
        do { try reader.forEachLine { number, line, truncated in
            if number == 1 {
                if current == nil {
                    guard let detected = ClickFormat.detect(firstLine: line) else { throw Self.unknownFormat(path) }
                    current = detected
                    configure(reader, for: detected)
                }
                if current!.isHeader(line) { return }
            }
            switch current!.parse(line, truncated: truncated, latestAllowed: latest, earliestAllowed: earliest) {
            case .ok(let session, let item, let micros):
                try row(session, item, micros, number, line)
            case .problem(let problem):
                try quarantine?.add(importID: importID, source: name, line: number, problem: problem, raw: line)
            }
            if number & 0xFFFF == 0 { progress?.update(completed: reader.bytesConsumed) }
        } } catch is StopReading { return }
        progress?.update(completed: reader.fileSize ?? reader.bytesConsumed)
        progress?.finish()
    }

    private func configure(_ reader: LineReader, for format: ClickFormat) {
        // RFC 4180 quoting (fields holding separators, quotes or line breaks) in the project's CSV.
        reader.quotedNewlines = format == .genericCSV
        reader.separator = format.separator
    }

    static func unknownFormat(_ path: String) -> ImportError {
        ImportError(
            "cannot tell the format of \(path == LineReader.standardInput ? "standard input" : path) from its first line; "
                + "pass --format (one of \(ClickFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
    }

    private static func string(_ id: ClickID, in line: UnsafeBufferPointer<UInt8>) -> String {
        switch id {
        case .range(let range): String(decoding: UnsafeBufferPointer(rebasing: line[range]), as: UTF8.self)
        case .text(let text): text
        }
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
