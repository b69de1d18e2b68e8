/// The SQL of importing click files: the `danser.imports` ledger row, and the two ways rows
/// reach `danser.click_log` with each click counted once (migration 0008's natural key
/// (session, item, time, ordinal)):
/// - direct: rows go by binary COPY straight into the log, under a savepoint; the first row
///   whose click is already there undoes it (`copyNewClicks` returns nil) and the caller
///   stages the file instead. Rows that may repeat an earlier row's key within the file are
///   set aside and added afterwards with their exact ordinal (`addPossibleRepeats`).
/// - staged: rows go into a temporary table first and only those not yet in the log are
///   added (`createStaging`, `stagingCopy`, `addStaged`).
public struct ClickImportStore: Sendable {
    public init() {}

    /// An earlier import of the same bytes: (import id, format it was read as).
    public func existingImport(sha256: String, on connection: Connection) throws -> (id: Int64, format: String)? {
        let result = try connection.query("SELECT import_id, format FROM danser.imports WHERE file_sha256 = $1", [.text(sha256)])
        guard result.rowCount > 0 else { return nil }
        return (try Self.int64(result, 0, "danser.imports.import_id"), try Self.text(result, 1, "danser.imports.format"))
    }

    /// Records the start of an import and returns its id. `identity` is the file's SHA-256 (or a
    /// unique placeholder for standard input).
    public func begin(fileName: String, identity: String, format: String, on connection: Connection) throws -> Int64 {
        let result = try connection.query(
            "INSERT INTO danser.imports (file_name, file_sha256, format) VALUES ($1, $2, $3) RETURNING import_id",
            [.text(fileName), .text(identity), .text(format)])
        guard result.rowCount == 1 else { throw FeatureStoreError(.decodingFailed, "recording the import of \(fileName) returned no id") }
        return try Self.int64(result, 0, "danser.imports.import_id")
    }

    /// Records the counts of a finished import.
    public func finish(importID: Int64, imported: Int, duplicates: Int, quarantined: Int, format: String, on connection: Connection) throws {
        try connection.query(
            """
            UPDATE danser.imports SET rows_imported = $2, rows_duplicate = $3, rows_quarantined = $4, format = $5,
                finished_at = clock_timestamp() WHERE import_id = $1
            """,
            [.int64(importID), .int(imported), .int(duplicates), .int(quarantined), .text(format)])
    }

    // MARK: Direct

    /// Whether any of `keys` (session, item, event time in microseconds) is a click of the log.
    public func containsAny(of keys: [(session: String, item: String, micros: Int64)], on connection: Connection) throws -> Bool {
        guard !keys.isEmpty else { return false }
        let values = keys.indices.map { "($\(3 * $0 + 1)::text, $\(3 * $0 + 2)::text, $\(3 * $0 + 3)::timestamptz)" }
        let result = try connection.query("""
            SELECT EXISTS (
                SELECT FROM danser.click_log c JOIN (VALUES \(values.joined(separator: ", "))) k (session_id, item_id, event_time)
                  ON c.session_id = k.session_id AND c.item_id = k.item_id AND c.event_time = k.event_time)
            """, keys.flatMap { [PostgresValue.text($0.session), .text($0.item), .timestamptz($0.micros)] })
        guard case .bool(let found) = try result.value(0, 0) else {
            throw FeatureStoreError(.decodingFailed, "looking up clicks in the log returned no boolean")
        }
        return found
    }

    /// Fields of each row `copyNewClicks` takes, in order: session id (text), item id (text),
    /// event time (timestamptz), import id (int8). The ordinal is 1.
    public static let directFieldCount = 4

    /// COPYs rows straight into `danser.click_log` with ordinal 1, inside the caller's
    /// transaction. Returns the rows added, or nil when a row's click was already in the log (a
    /// file overlapping earlier imports, or one a concurrent import added): then nothing was
    /// added and the caller imports the file the staged way.
    public func copyNewClicks(on connection: Connection, _ produce: (inout BinaryCopyWriter) throws -> Void) throws -> Int? {
        try connection.execute(script: "SAVEPOINT click_import_direct")
        do {
            let added = try connection.copyIn(
                "COPY danser.click_log (session_id, item_id, event_time, import_id) FROM STDIN (FORMAT binary)", produce)
            try connection.execute(script: "RELEASE SAVEPOINT click_import_direct")
            return added
        } catch let error as FeatureStoreError where error.sqlState == "23505" {
            try connection.execute(script: "ROLLBACK TO SAVEPOINT click_import_direct; RELEASE SAVEPOINT click_import_direct")
            return nil
        }
    }

    /// Fields of each possible repeat given to `addPossibleRepeats`: session id, item id, event
    /// time, line number (int8, file order).
    public static let repeatFieldCount = 4

    /// Adds the rows set aside by a direct import (`produce` sends them as binary COPY bytes,
    /// header included) with their exact ordinal: every row after the first of its key in the
    /// file is among them, and the first is either among them too or was copied directly by
    /// this import with ordinal 1. Returns (rows added, rows given); the difference were
    /// already in the log.
    public func addPossibleRepeats(
        importID: Int64, on connection: Connection, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> (added: Int, given: Int) {
        try connection.execute(script: """
            CREATE TEMPORARY TABLE click_import_repeats (
                session_id text NOT NULL, item_id text NOT NULL, event_time timestamptz NOT NULL, line bigint NOT NULL
            ) ON COMMIT DROP
            """)
        let given = try connection.copyIn("COPY pg_temp.click_import_repeats FROM STDIN (FORMAT binary)", rawBytes: produce)
        try connection.execute(script: "ANALYZE pg_temp.click_import_repeats")
        // The statement's snapshot does not see its own rows: EXISTS sees only the direct copy.
        let added = try connection.query(Self.addRepeats(countingIn: "pg_temp.click_import_repeats", plus: """
            CASE WHEN EXISTS (
                SELECT FROM danser.click_log c
                WHERE c.session_id = r.session_id AND c.item_id = r.item_id AND c.event_time = r.event_time
                  AND c.ordinal = 1 AND c.import_id = $1) THEN 1 ELSE 0 END
            """), [.int64(importID)]).affectedRows
        try connection.execute(script: "DROP TABLE pg_temp.click_import_repeats")
        return (added, given)
    }

    // MARK: Staged

    /// Fields of each row of `stagingCopy`: session id, item id, event time, line number (int8),
    /// maybe repeat (bool: false when the row is certainly the first of its key in the file).
    public static let stagingFieldCount = 5
    /// The COPY statement that fills the staging table.
    public static let stagingCopy =
        "COPY pg_temp.click_import (session_id, item_id, event_time, line, maybe_repeat) FROM STDIN (FORMAT binary)"

    /// Creates (or empties) the temporary staging table of one file; it is dropped at commit.
    public func createStaging(on connection: Connection) throws {
        try connection.execute(script: """
            CREATE TEMPORARY TABLE IF NOT EXISTS click_import (
                session_id text NOT NULL, item_id text NOT NULL, event_time timestamptz NOT NULL, line bigint NOT NULL,
                maybe_repeat boolean NOT NULL
            ) ON COMMIT DROP;
            TRUNCATE pg_temp.click_import;
            """)
    }

    /// Adds the staged rows whose click is not in the log yet, each with its ordinal, and drops
    /// the staging table. `timeRange` (microseconds) is that of the staged rows. Returns the rows added.
    public func addStaged(importID: Int64, timeRange: (first: Int64, last: Int64), on connection: Connection) throws -> Int {
        var added = try addFirstOccurrences(importID: importID, timeRange: timeRange, on: connection)
        try connection.execute(script: """
            CREATE TEMPORARY TABLE click_import_repeats ON COMMIT DROP AS
                SELECT session_id, item_id, event_time, line FROM pg_temp.click_import WHERE maybe_repeat;
            ANALYZE pg_temp.click_import_repeats;
            """)
        added += try connection.query(Self.addRepeats(countingIn: "pg_temp.click_import", plus: "0"), [.int64(importID)]).affectedRows
        try connection.execute(script: "DROP TABLE pg_temp.click_import; DROP TABLE pg_temp.click_import_repeats")
        return added
    }

    /// Adds the certain first occurrences with ordinal 1. When the log holds no click in the
    /// file's time range nothing can conflict and a plain INSERT skips the per-row conflict
    /// check; should a concurrent import add one meanwhile, the statement is undone to a
    /// savepoint and redone with the check.
    private func addFirstOccurrences(importID: Int64, timeRange: (first: Int64, last: Int64), on connection: Connection) throws -> Int {
        let insert = """
            INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
            SELECT session_id, item_id, event_time, 1, $1 FROM pg_temp.click_import WHERE NOT maybe_repeat
            """
        if timeRange.first <= timeRange.last {
            let result = try connection.query(
                "SELECT EXISTS (SELECT FROM danser.click_log WHERE event_time BETWEEN $1 AND $2)",
                [.timestamptz(timeRange.first), .timestamptz(timeRange.last)])
            guard case .bool(let overlaps) = try result.value(0, 0) else {
                throw FeatureStoreError(.decodingFailed, "checking the click log for the file's time range returned no boolean")
            }
            if !overlaps {
                try connection.execute(script: "SAVEPOINT click_import_fast")
                do {
                    let added = try connection.query(insert, [.int64(importID)]).affectedRows
                    try connection.execute(script: "RELEASE SAVEPOINT click_import_fast")
                    return added
                } catch let error as FeatureStoreError where error.sqlState == "23505" {
                    try connection.execute(script: "ROLLBACK TO SAVEPOINT click_import_fast")
                }
            }
        }
        return try connection.query(insert + "\nON CONFLICT (session_id, item_id, event_time, ordinal) DO NOTHING", [.int64(importID)])
            .affectedRows
    }

    /// Adds the rows of `pg_temp.click_import_repeats` not in the log yet (`$1`: import id), each
    /// with its ordinal: the rows of `table` with its key up to and including its line, plus
    /// `extra` (an SQL expression over the repeat `r`).
    private static func addRepeats(countingIn table: String, plus extra: String) -> String {
        """
        INSERT INTO danser.click_log (session_id, item_id, event_time, ordinal, import_id)
        SELECT r.session_id, r.item_id, r.event_time, (count(*) + \(extra))::integer, $1
        FROM pg_temp.click_import_repeats r
        JOIN \(table) f
          ON f.session_id = r.session_id AND f.item_id = r.item_id AND f.event_time = r.event_time AND f.line <= r.line
        GROUP BY r.line, r.session_id, r.item_id, r.event_time
        ON CONFLICT (session_id, item_id, event_time, ordinal) DO NOTHING
        """
    }

    // MARK: Decoding

    private static func int64(_ result: QueryResult, _ column: Int, _ what: String) throws -> Int64 {
        guard let value = try result.value(0, column).int64Value else {
            throw FeatureStoreError(.decodingFailed, "\(what) is not an integer")
        }
        return value
    }

    private static func text(_ result: QueryResult, _ column: Int, _ what: String) throws -> String {
        guard let value = try result.value(0, column).stringValue else {
            throw FeatureStoreError(.decodingFailed, "\(what) is not text")
        }
        return value
    }
}
