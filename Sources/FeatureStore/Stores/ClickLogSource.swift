/// Where the job reads clicks from: the project's `danser.click_log` by default, or a configured
/// table and columns of the warehouse. Names are validated identifiers, never pasted input.
public struct ClickLogSource: Sendable, CustomStringConvertible {
    public var table = "danser.click_log"
    public var sessionColumn = "session_id"
    public var itemColumn = "item_id"
    public var timeColumn = "event_time"

    public init() {}

    public init(table: String, sessionColumn: String, itemColumn: String, timeColumn: String) throws {
        for name in [table, sessionColumn, itemColumn, timeColumn] { _ = try SQLIdentifier.quoted(name) }
        self.table = table
        self.sessionColumn = sessionColumn
        self.itemColumn = itemColumn
        self.timeColumn = timeColumn
    }

    public var description: String { "\(table)(\(sessionColumn), \(itemColumn), \(timeColumn))" }

    /// How many clicks the source holds, and the time of the latest (nil when it is empty).
    public func extent(on connection: Connection) throws -> (clicks: Int64, latestMicros: Int64?) {
        let time = try SQLIdentifier.quoted(timeColumn)
        let result = try connection.query("SELECT count(*), max(\(time))::timestamptz FROM \(try SQLIdentifier.quoted(table))")
        return (try result.int64(0, 0), try result.optionalTimestamp(0, 1))
    }

    /// One click as read, or why it cannot be used (null id or time).
    public enum Row: Sendable {
        case click(session: String, item: String, timeMicros: Int64)
        case unusable(reason: String, session: String?, item: String?)
    }

    /// Streams the clicks with `from <= time < before` (from optional) by binary COPY, in no
    /// particular order, plus rows without a time (reported as unusable, so they are counted and
    /// quarantined rather than silently skipped). Memory stays bounded whatever the table size.
    @discardableResult
    public func read(
        on connection: Connection, before: Int64, from: Int64? = nil, _ body: (Row) throws -> Void
    ) throws -> Int {
        let session = try SQLIdentifier.quoted(sessionColumn)
        let item = try SQLIdentifier.quoted(itemColumn)
        let time = try SQLIdentifier.quoted(timeColumn)
        // COPY takes no parameters; the bounds are integers formatted here, never user text.
        var condition = "\(time) < \(Self.timestampLiteral(before))"
        if let from { condition += " AND \(time) >= \(Self.timestampLiteral(from))" }
        let sql = "COPY (SELECT \(session)::text, \(item)::text, \(time)::timestamptz FROM \(try SQLIdentifier.quoted(table)) WHERE (\(condition)) OR \(time) IS NULL) TO STDOUT (FORMAT binary)"
        return try connection.copyOut(sql) { row in
            let sessionID = row.text(0)
            let itemID = row.text(1)
            guard let sessionID, !sessionID.isEmpty else {
                return try body(.unusable(reason: "missing session id", session: sessionID, item: itemID))
            }
            guard let itemID, !itemID.isEmpty else {
                return try body(.unusable(reason: "missing item id", session: sessionID, item: itemID))
            }
            guard let micros = row.timestampMicros(2) else {
                return try body(.unusable(reason: "missing timestamp", session: sessionID, item: itemID))
            }
            try body(.click(session: sessionID, item: itemID, timeMicros: micros))
        }
    }

    /// What the source is on the server: nil when the table does not exist, else the type of each
    /// configured column that exists (by column name; a missing column is absent).
    public func columnTypes(on connection: Connection) throws -> [String: String]? {
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(try SQLIdentifier.quoted(table))]).scalar()
        guard case .bool(true)? = exists else { return nil }
        let result = try connection.query("""
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])
            """, [.text(try SQLIdentifier.quoted(table)), .text("{" + [sessionColumn, itemColumn, timeColumn].map { "\"\($0)\"" }.joined(separator: ",") + "}")])
        var types: [String: String] = [:]
        for row in try result.rows() { if let name = row[0].stringValue, let type = row[1].stringValue { types[name] = type } }
        return types
    }

    /// `'2016-05-25 00:00:00.000000+00'::timestamptz` from microseconds since the epoch.
    static func timestampLiteral(_ micros: Int64) -> String {
        "to_timestamp(\(micros / 1_000_000)) + interval '\(micros % 1_000_000) microseconds'"
    }
}
