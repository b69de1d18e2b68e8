/// One input row set aside, with where it came from and why.
public struct QuarantinedRow: Sendable {
    public var source: String
    public var lineNumber: Int64?
    public var reason: String
    public var rawLine: String?

    public init(source: String, lineNumber: Int64?, reason: String, rawLine: String?) {
        self.source = source
        self.lineNumber = lineNumber
        self.reason = reason
        self.rawLine = rawLine
    }
}

/// Writes quarantined rows of a run (ingest from a table) by binary COPY.
public struct QuarantineStore: Sendable {
    public init() {}

    /// Streams rows already encoded in binary COPY format, in the field order
    /// (import_id, source, line_number, reason, raw_line): an import's spooled bad rows.
    @discardableResult
    public func copyEncodedImportRows(on connection: Connection, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int {
        try connection.copyIn("COPY danser.quarantine (import_id, source, line_number, reason, raw_line) FROM STDIN (FORMAT binary)", rawBytes: produce)
    }

    /// Stores `rows` for `runID`; returns how many were stored.
    @discardableResult
    public func add(_ rows: [QuarantinedRow], runID: Int64?, importID: Int64? = nil, on connection: Connection) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try connection.copyIn("COPY danser.quarantine (import_id, run_id, source, line_number, reason, raw_line) FROM STDIN (FORMAT binary)") { writer in
            for row in rows {
                try writer.beginRow(fieldCount: 6)
                writer.append(importID.map { .int64($0) } ?? .null)
                writer.append(runID.map { .int64($0) } ?? .null)
                writer.appendText(row.source)
                writer.append(row.lineNumber.map { .int64($0) } ?? .null)
                writer.appendText(row.reason)
                writer.append(.optionalText(row.rawLine.map { String($0.prefix(1000)) }))
            }
        }
    }

    /// Stores the rows of `rows` that are not in quarantine yet (same source, reason and raw
    /// line), so a bad row of a source table that every night reads again is kept once, not once
    /// per night. Returns how many were new.
    @discardableResult
    public func addNew(_ rows: [QuarantinedRow], runID: Int64?, on connection: Connection) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try connection.withTransaction { connection in
            try connection.query("CREATE TEMP TABLE quarantine_incoming (source text, line_number bigint, reason text, raw_line text) ON COMMIT DROP")
            try connection.copyIn("COPY quarantine_incoming FROM STDIN (FORMAT binary)") { writer in
                for row in rows {
                    try writer.beginRow(fieldCount: 4)
                    writer.appendText(row.source)
                    writer.append(row.lineNumber.map { .int64($0) } ?? .null)
                    writer.appendText(row.reason)
                    writer.append(.optionalText(row.rawLine.map { String($0.prefix(1000)) }))
                }
            }
            return try connection.query("""
                INSERT INTO danser.quarantine (run_id, source, line_number, reason, raw_line)
                SELECT DISTINCT $1::bigint, i.source, i.line_number, i.reason, i.raw_line FROM quarantine_incoming i
                WHERE NOT EXISTS (
                    SELECT FROM danser.quarantine q WHERE q.import_id IS NULL AND q.source = i.source AND q.reason = i.reason
                      AND q.raw_line IS NOT DISTINCT FROM i.raw_line)
                """, [runID.map { .int64($0) } ?? .null]).affectedRows
        }
    }
}
