/// The one error type of FeatureStore: what failed (`code`), the server's SQLSTATE and
/// message, and the statement text. Never the bound values, never a password.
public struct FeatureStoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; callers map it to an exit code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Bad or missing configuration (connection string, state folder, sql folder).
        public static let configuration = Code("configuration")
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code("connectionFailed")
        /// The connection broke while in use.
        public static let connectionLost = Code("connectionLost")
        /// Wrong or missing password.
        public static let authenticationFailed = Code("authenticationFailed")
        /// The role lacks a privilege (SQLSTATE 42501, 28000).
        public static let permissionDenied = Code("permissionDenied")
        /// The server rejected a statement.
        public static let queryFailed = Code("queryFailed")
        /// A COPY stream failed or carried malformed data.
        public static let copyFailed = Code("copyFailed")
        /// A value could not be decoded into the requested type.
        public static let decodingFailed = Code("decodingFailed")
        /// An applied migration was edited, or the migration files are inconsistent.
        public static let migrationMismatch = Code("migrationMismatch")
        /// The embedded server could not be created, started or stopped.
        public static let embeddedServer = Code("embeddedServer")
    }

    public var code: Code
    public var message: String
    /// Five-character SQLSTATE from the server, when there is one.
    public var sqlState: String?
    /// The statement text (with `$n` placeholders); never the values bound to it.
    public var statement: String?
    public var detail: String?
    public var hint: String?

    public init(
        _ code: Code, _ message: String, sqlState: String? = nil, statement: String? = nil,
        detail: String? = nil, hint: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.statement = statement
        self.detail = detail
        self.hint = hint
    }

    /// One line for a person: the message and SQLSTATE, no statement.
    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    /// Everything, for logs: adds detail and the statement text.
    public var expandedDescription: String {
        var text = description
        if let detail { text += "; detail: \(detail)" }
        if let statement { text += "; statement: \(statement.prefix(500))" }
        return text
    }

    /// Transient failures worth retrying: connection problems (class 08), serialization
    /// failure, deadlock, too many connections, admin shutdown / crash / startup, lost link.
    public var isTransient: Bool {
        if code == .connectionLost { return true }
        if code == .connectionFailed { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08")
            || ["40001", "40P01", "53300", "57P01", "57P02", "57P03"].contains(sqlState)
    }
}
