internal import CPostgres

/// The rows of one statement, in binary format. Owns the libpq result and frees it.
public final class QueryResult {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }
    /// Rows touched by INSERT/UPDATE/DELETE/COPY; 0 when not applicable.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    public func columnName(_ column: Int) -> String { String(cString: PQfname(handle, Int32(column))) }

    public func columnIndex(_ name: String) -> Int? {
        let index = PQfnumber(handle, name)
        return index < 0 ? nil : Int(index)
    }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) != 0 }

    /// The decoded value at (row, column). Text-format results (from multi-statement scripts) decode as text.
    public func value(_ row: Int, _ column: Int) throws -> PostgresValue {
        let r = Int32(row), c = Int32(column)
        if PQgetisnull(handle, r, c) != 0 { return .null }
        let length = Int(PQgetlength(handle, r, c))
        guard let pointer = PQgetvalue(handle, r, c) else { return .null }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        if PQfformat(handle, c) == 0 { return .text(String(decoding: bytes, as: UTF8.self)) }
        return try PostgresValue.decode(oid: PQftype(handle, c), bytes: bytes)
    }

    public func value(_ row: Int, _ name: String) throws -> PostgresValue {
        guard let column = columnIndex(name) else {
            throw FeatureStoreError(.decodingFailed, "no column named \(name) in the result")
        }
        return try value(row, column)
    }

    /// All rows, decoded. For small results only; large reads use COPY.
    public func rows() throws -> [[PostgresValue]] {
        try (0..<rowCount).map { row in try (0..<columnCount).map { try value(row, $0) } }
    }

    /// The first column of the first row, or nil when there is no row.
    public func scalar() throws -> PostgresValue? {
        rowCount == 0 || columnCount == 0 ? nil : try value(0, 0)
    }
}
