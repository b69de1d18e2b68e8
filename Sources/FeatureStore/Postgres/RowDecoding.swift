/// Typed, throwing reads of one field of a result: a NULL where a value is required, a value of
/// another type, or a status string that is not one of its enum's cases is a decoding error that
/// names the column, never a silent default.
extension QueryResult {
    /// The field as a PostgreSQL integer of any width.
    public func int64(_ row: Int, _ column: Int) throws -> Int64 {
        try required(row, column, "an integer") { $0.int64Value }
    }

    public func optionalInt64(_ row: Int, _ column: Int) throws -> Int64? {
        try optional(row, column, "an integer") { $0.int64Value }
    }

    public func int(_ row: Int, _ column: Int) throws -> Int { Int(try int64(row, column)) }

    /// A real or integer field as a Double.
    public func double(_ row: Int, _ column: Int) throws -> Double {
        try required(row, column, "a number") { $0.doubleValue }
    }

    public func optionalDouble(_ row: Int, _ column: Int) throws -> Double? {
        try optional(row, column, "a number") { $0.doubleValue }
    }

    /// A text or jsonb field.
    public func text(_ row: Int, _ column: Int) throws -> String {
        try required(row, column, "text") { $0.stringValue }
    }

    public func optionalText(_ row: Int, _ column: Int) throws -> String? {
        try optional(row, column, "text") { $0.stringValue }
    }

    public func bool(_ row: Int, _ column: Int) throws -> Bool {
        try required(row, column, "a boolean") { $0.boolValue }
    }

    public func bytes(_ row: Int, _ column: Int) throws -> [UInt8] {
        try required(row, column, "bytea") { $0.bytesValue }
    }

    /// A date field, in days since the Unix epoch.
    public func date(_ row: Int, _ column: Int) throws -> Int32 {
        try required(row, column, "a date") { if case .date(let day) = $0 { day } else { nil } }
    }

    public func optionalDate(_ row: Int, _ column: Int) throws -> Int32? {
        try optional(row, column, "a date") { if case .date(let day) = $0 { day } else { nil } }
    }

    /// A timestamp field, in microseconds since the Unix epoch.
    public func timestamp(_ row: Int, _ column: Int) throws -> Int64 {
        try required(row, column, "a timestamp") { $0.timestampMicros }
    }

    public func optionalTimestamp(_ row: Int, _ column: Int) throws -> Int64? {
        try optional(row, column, "a timestamp") { $0.timestampMicros }
    }

    /// A text field that must be one of an enum's raw values (a status, a mode).
    public func decode<T: RawRepresentable>(_ row: Int, _ column: Int, as type: T.Type = T.self) throws -> T where T.RawValue == String {
        let raw = try text(row, column)
        guard let value = T(rawValue: raw) else {
            throw FeatureStoreError(.decodingFailed, "column \(columnName(column)) of row \(row + 1) holds '\(raw)', which is no \(T.self)")
        }
        return value
    }

    public func optionalDecode<T: RawRepresentable>(_ row: Int, _ column: Int, as type: T.Type = T.self) throws -> T? where T.RawValue == String {
        isNull(row, column) ? nil : try decode(row, column, as: type)
    }

    /// The first column of the only (or first) row, which must exist and hold a value.
    public func requiredScalar<T>(_ read: (QueryResult) -> (Int, Int) throws -> T, _ what: String) throws -> T {
        guard rowCount > 0, columnCount > 0 else { throw FeatureStoreError(.decodingFailed, "\(what): the statement returned no row") }
        return try read(self)(0, 0)
    }

    private func required<T>(_ row: Int, _ column: Int, _ expected: String, _ convert: (PostgresValue) -> T?) throws -> T {
        let value = try self.value(row, column)
        guard let converted = convert(value) else {
            // The kind of value only (text, int32, ...), never its content.
            let found = value.isNull ? "NULL" : String(String(describing: value).prefix { $0 != "(" })
            throw FeatureStoreError(.decodingFailed, "column \(columnName(column)) of row \(row + 1): expected \(expected), found \(found)")
        }
        return converted
    }

    private func optional<T>(_ row: Int, _ column: Int, _ expected: String, _ convert: (PostgresValue) -> T?) throws -> T? {
        if isNull(row, column) { return nil }
        return try required(row, column, expected, convert)
    }
}
