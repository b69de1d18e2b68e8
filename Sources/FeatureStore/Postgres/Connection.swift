internal import CPostgres
internal import Foundation
public import Logging

/// One libpq connection. Owns the handle and closes it in `deinit`. Not shared between
/// threads: one task uses it at a time.
public final class Connection {
    let handle: OpaquePointer
    public let configuration: ConnectionConfiguration
    let logger: Logger
    /// Largest COPY buffer held during the last copyIn/copyOut, for tests of bounded memory.
    public internal(set) var lastCopyPeakBufferedBytes = 0

    /// Opens a connection; failures name the target (never the password) and say what to check.
    public init(_ configuration: ConnectionConfiguration, logger: Logger = Logger(label: "danser.db")) throws {
        self.configuration = configuration
        self.logger = logger
        // A string that does not parse is a configuration error, never retried, never echoed.
        try configuration.validate()
        let overrides = configuration.overrides.sorted { $0.key < $1.key }
        let keywords = ["dbname", "application_name", "connect_timeout", "client_encoding"] + overrides.map(\.key)
        let values = [
            configuration.connectionString, configuration.applicationName,
            String(configuration.connectTimeoutSeconds), "UTF8",
        ] + overrides.map(\.value)
        let cKeywords = keywords.map { strdup($0) } + [nil]
        let cValues = values.map { strdup($0) } + [nil]
        defer {
            cKeywords.forEach { free($0) }
            cValues.forEach { free($0) }
        }
        let handle: OpaquePointer? = cKeywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            cValues.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let handle else {
            throw FeatureStoreError(.connectionFailed, "cannot allocate a PostgreSQL connection")
        }
        if PQstatus(handle) != CONNECTION_OK {
            let raw = String(cString: PQerrorMessage(handle)).trimmingTrailingWhitespace()
            let needsPassword = PQconnectionNeedsPassword(handle) != 0
            PQfinish(handle)
            throw Self.connectError(raw, needsPassword: needsPassword, configuration: configuration)
        }
        self.handle = handle
        // NOTICEs (e.g. "already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    static func connectError(_ raw: String, needsPassword: Bool, configuration: ConnectionConfiguration) -> FeatureStoreError {
        let message = configuration.scrub(raw).replacingNewlines()
        let target = configuration.description
        if needsPassword || message.contains("password authentication failed") || message.contains("no password supplied") {
            return FeatureStoreError(
                .authenticationFailed, "authentication failed connecting to \(target): \(message)",
                sqlState: "28P01", hint: "check the password in PGPASSWORD, ~/.pgpass or DATABASE_URL")
        }
        if message.contains("permission denied") || message.contains("not permitted to log in")
            || message.contains("no pg_hba.conf entry")
        {
            return FeatureStoreError(.permissionDenied, "permission denied connecting to \(target): \(message)", sqlState: "28000")
        }
        if message.contains("does not exist") {
            return FeatureStoreError(.configuration, "cannot connect to \(target): \(message)", sqlState: "3D000")
        }
        if message.contains("invalid") && (message.contains("URI") || message.contains("connection option")) {
            return FeatureStoreError(.configuration, "bad connection string for \(target): \(message)")
        }
        return FeatureStoreError(
            .connectionFailed, "cannot connect to \(target): \(message)",
            hint: "is the server running? check DATABASE_URL / PGHOST / PGPORT")
    }

    /// The server process serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }
    /// False once the link broke.
    public var isAlive: Bool { PQstatus(handle) == CONNECTION_OK }
    /// The role this session logged in as.
    public var user: String { String(cString: PQuser(handle)) }

    /// Runs one statement with binary parameters and binary results.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws -> QueryResult {
        var buffer: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int32] = []
        var types: [UInt32] = []
        for parameter in parameters {
            let start = buffer.count
            let present = parameter.appendBinary(to: &buffer)
            offsets.append(present ? start : -1)
            lengths.append(Int32(buffer.count - start))
            types.append(parameter.typeOID)
        }
        let formats = [Int32](repeating: 1, count: parameters.count)
        let result: OpaquePointer? = buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            let values: [UnsafePointer<CChar>?] = offsets.map {
                $0 < 0 ? nil : (base + $0).assumingMemoryBound(to: CChar.self)
            }
            return PQexecParams(handle, sql, Int32(parameters.count), types, values, lengths, formats, 1)
        }
        return try check(result, statement: sql)
    }

    /// Runs a script of several statements (text protocol, no parameters), e.g. a migration.
    public func execute(script: String) throws {
        _ = try check(PQexec(handle, script), statement: script)
    }

    /// True inside a transaction block (BEGIN ... COMMIT), false between statements.
    public var isInTransaction: Bool { PQtransactionStatus(handle) != PQTRANS_IDLE }

    /// Runs `body` inside BEGIN/COMMIT; rolls back when it throws.
    @discardableResult
    public func withTransaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if isAlive { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Turns a libpq result into a value or a typed error; nil means the link broke.
    func check(_ result: OpaquePointer?, statement: String) throws -> QueryResult {
        guard let result else { throw lastError(statement: statement) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_SINGLE_TUPLE:
            return QueryResult(handle: result)
        default:
            let error = makeError(result, statement: statement)
            PQclear(result)
            throw error
        }
    }

    /// The error of a failed result: SQLSTATE, message, detail, hint and statement.
    func makeError(_ result: OpaquePointer, statement: String?) -> FeatureStoreError {
        func field(_ code: Int32) -> String? {
            guard let pointer = PQresultErrorField(result, code) else { return nil }
            return configuration.scrub(String(cString: pointer))
        }
        let sqlState = field(CPG_DIAG_SQLSTATE)
        var message = field(CPG_DIAG_MESSAGE_PRIMARY)
            ?? configuration.scrub(String(cString: PQresultErrorMessage(result))).trimmingTrailingWhitespace()
        if message.isEmpty { message = "the statement failed" }
        let code: FeatureStoreError.Code
        switch sqlState {
        case nil where !isAlive: code = .connectionLost
        case let s? where s.hasPrefix("08") || s.hasPrefix("57P"): code = .connectionLost
        case "42501": code = .permissionDenied
        case "28P01": code = .authenticationFailed
        default: code = .queryFailed
        }
        return FeatureStoreError(
            code, message.replacingNewlines(), sqlState: sqlState, statement: statement,
            detail: field(CPG_DIAG_MESSAGE_DETAIL), hint: field(CPG_DIAG_MESSAGE_HINT))
    }

    /// The connection-level error when libpq returned no result at all.
    func lastError(statement: String?) -> FeatureStoreError {
        let message = configuration.scrub(String(cString: PQerrorMessage(handle))).trimmingTrailingWhitespace()
        return FeatureStoreError(
            isAlive ? .queryFailed : .connectionLost,
            message.isEmpty ? "the connection to the server was lost" : message.replacingNewlines(),
            statement: statement)
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = self[...]
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
    /// libpq messages span lines; an error is one line.
    func replacingNewlines() -> String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
