import FeatureStore
import Foundation
import Logging

/// Loads one click file into `danser.click_log` by binary COPY, streaming, in one transaction
/// with its `danser.imports` row and its quarantined rows: a failed import leaves nothing, and a
/// file already imported (same SHA-256) is skipped.
struct ClickImporter {
    struct Outcome {
        var file: String
        var format: ClickFormat
        var importID: Int64
        var imported = 0
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
    /// Draw progress (on a terminal) or log it (otherwise).
    var showProgress = true

    func importFile(_ path: String, format requested: ClickFormat?) throws -> Outcome {
        let started = Date()
        let name = (path as NSString).lastPathComponent
        let digest = try Self.sha256(ofFile: path)
        let format = try requested ?? Self.detectFormat(path)
        var outcome = try database.withTransaction { connection in
            try load(path, name: name, digest: digest, format: format, connection: connection)
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    private func load(_ path: String, name: String, digest: String, format: ClickFormat, connection: Connection) throws -> Outcome {
        let inserted = try connection.query(
            """
            INSERT INTO danser.imports (file_name, file_sha256, format) VALUES ($1, $2, $3)
            ON CONFLICT (file_sha256) DO NOTHING RETURNING import_id
            """, [.text(name), .text(digest), .text(format.rawValue)]
        ).scalar()?.int64Value
        guard let importID = inserted else {
            let existing = try connection.query("SELECT import_id FROM danser.imports WHERE file_sha256 = $1", [.text(digest)])
            return Outcome(file: name, format: format, importID: try existing.scalar()?.int64Value ?? 0, alreadyImported: true)
        }
        var outcome = Outcome(file: name, format: format, importID: importID)
        let reader = try LineReader(path: path, maxLineLength: maxLineLength)
        let spool = try QuarantineSpool()
        let progress = showProgress ? ProgressReporter(label: "import \(name)", total: reader.fileSize, unit: "B", logger: logger) : nil
        let latest = latestAllowedMicros
        outcome.imported = try connection.copyIn(
            "COPY danser.click_log (session_id, item_id, event_time, import_id) FROM STDIN (FORMAT binary)"
        ) { writer in
            try reader.forEachLine { number, line, truncated in
                if number == 1 && format.isHeader(line) { return }
                switch format.parse(line, truncated: truncated, latestAllowed: latest) {
                case .ok(let session, let item, let micros):
                    try writer.beginRow(fieldCount: 4)
                    Self.append(session, from: line, to: &writer)
                    Self.append(item, from: line, to: &writer)
                    writer.appendTimestamp(micros: micros)
                    writer.appendInt64(importID)
                case .problem(let problem):
                    try spool.add(importID: importID, source: name, line: number, problem: problem, raw: line)
                }
                if number & 0xFFFF == 0 { progress?.update(completed: reader.bytesConsumed) }
            }
        }
        progress?.update(completed: reader.fileSize)
        progress?.finish()
        try spool.copy(into: connection)
        outcome.quarantined = spool.count
        outcome.quarantinedByKind = spool.countsByKind
        try connection.query(
            "UPDATE danser.imports SET rows_imported = $2, rows_quarantined = $3, finished_at = clock_timestamp() WHERE import_id = $1",
            [.int64(importID), .int(outcome.imported), .int(outcome.quarantined)])
        return outcome
    }

    private static func append(_ id: ClickID, from line: UnsafeBufferPointer<UInt8>, to writer: inout BinaryCopyWriter) {
        switch id {
        case .range(let range): writer.appendBytes(UnsafeBufferPointer(rebasing: line[range]))
        case .text(let text): writer.appendText(text)
        }
    }

    /// The format named by the file's first line; a data error when nothing fits.
    static func detectFormat(_ path: String) throws -> ClickFormat {
        let reader = try LineReader(path: path, maxLineLength: 4096)
        struct FirstLine: Error { let format: ClickFormat? }
        do {
            try reader.forEachLine { _, line, _ in throw FirstLine(format: ClickFormat.detect(firstLine: line)) }
        } catch let first as FirstLine {
            if let format = first.format { return format }
        }
        throw ImportError(
            "cannot tell the format of \(path) from its first line; pass --format (one of \(ClickFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
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
