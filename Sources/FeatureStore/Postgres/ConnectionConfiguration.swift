internal import CPostgres
internal import Foundation

/// Where to connect. Holds a libpq connection string (URL or `key=value` form); an empty
/// string means libpq's own defaults: the `PG*` variables and `~/.pgpass`.
/// `description` never shows a password.
public struct ConnectionConfiguration: Sendable, CustomStringConvertible {
    /// URL (`postgresql://...`) or `key=value` string; empty uses the `PG*` variables.
    public var connectionString: String
    /// Shown in `pg_stat_activity`. Default `danser-batch`.
    public var applicationName: String
    /// Seconds to wait for a connection. Default 10.
    public var connectTimeoutSeconds: Int
    /// libpq keywords that override the string's own fields (e.g. `dbname`, `user`).
    public var overrides: [String: String] = [:]

    public init(_ connectionString: String = "", applicationName: String = "danser-batch", connectTimeoutSeconds: Int = 10) {
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// libpq variables that count as "a database is configured".
    static let configuringVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"]

    /// The configuration named by `--database-url`, else `DATABASE_URL`, else any `PG*`
    /// variable; nil when none is present at all (the caller then uses the embedded server).
    /// A setting that is present but empty is a configuration error naming it, never a silent
    /// fall-back to the embedded server (an unquoted `&` in a sourced environment file empties
    /// the variable). `name` says where a variable's value came from, for the message.
    public static func resolve(
        databaseURL: String?, environment: [String: String], name: (String) -> String = { "environment variable \($0)" }
    ) throws -> ConnectionConfiguration? {
        func emptyError(_ what: String) -> FeatureStoreError {
            FeatureStoreError(.configuration, "\(what) is set but empty, so no database can be chosen",
                hint: "give it a value (postgresql://USER@HOST:PORT/DBNAME) or remove it to use the embedded server; "
                    + "in an environment file, quote values that hold & ; or spaces: DATABASE_URL='postgresql://...'")
        }
        if let url = databaseURL {
            guard !url.trimmingCharacters(in: .whitespaces).isEmpty else { throw emptyError("--database-url") }
            return ConnectionConfiguration(url)
        }
        if let url = environment["DATABASE_URL"] {
            guard !url.trimmingCharacters(in: .whitespaces).isEmpty else { throw emptyError(name("DATABASE_URL")) }
            return ConnectionConfiguration(url)
        }
        for variable in configuringVariables where environment[variable] != nil {
            guard !environment[variable]!.trimmingCharacters(in: .whitespaces).isEmpty else { throw emptyError(name(variable)) }
        }
        if configuringVariables.contains(where: { environment[$0] != nil }) {
            return ConnectionConfiguration("")
        }
        return nil
    }

    /// The connection string's own fields, as libpq parses them; nil when it does not parse.
    func parsedFields() -> [String: String]? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var fields: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { fields[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return fields
    }

    /// The same server with another database name.
    public func withDatabase(_ name: String) -> ConnectionConfiguration {
        var copy = self
        copy.overrides["dbname"] = name
        return copy
    }

    /// The same server as another role.
    public func withUser(_ name: String) -> ConnectionConfiguration {
        var copy = self
        copy.overrides["user"] = name
        return copy
    }

    /// One `key=value` string with the overrides applied, for tools such as `psql`.
    /// Contains the password if the string had one: never log it or pass it on a command line.
    public func expandedConninfo() -> String {
        let fields = (parsedFields() ?? [:]).merging(overrides) { _, new in new }
        return fields.sorted { $0.key < $1.key }.map { key, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            return "\(key)='\(escaped)'"
        }.joined(separator: " ")
    }

    /// True when the connection string itself carries a password (so it must not be put on
    /// a command line, where `ps` shows it). A string that does not parse counts when it looks
    /// like it holds one.
    public var containsPassword: Bool {
        guard let fields = parsedFields() else { return !Self.likelySecrets(in: connectionString).isEmpty }
        return !(fields["password"] ?? "").isEmpty
    }

    /// Checks that the connection string parses, before anything uses it. A string that does
    /// not parse is a configuration error whose message never shows the string: it may hold a
    /// password, and libpq's own parse errors quote it whole.
    public func validate() throws {
        guard !connectionString.isEmpty else { return }
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &errorMessage) {
            PQconninfoFree(options)
            return
        }
        var reason = "it is neither a postgresql:// URL nor key=value pairs"
        if let errorMessage {
            reason = Self.withoutQuotedText(String(cString: errorMessage)).trimmingTrailingWhitespace().replacingNewlines()
            PQfreemem(errorMessage)
        }
        throw FeatureStoreError(.configuration,
            "the database connection string does not parse (\(scrub(reason))); it is not shown, as it may hold a password",
            hint: "check DATABASE_URL or --database-url: postgresql://USER@HOST:PORT/DBNAME (IPv6 hosts in [brackets]) "
                + "or 'host=... dbname=...'; keep the password in PGPASSWORD or ~/.pgpass")
    }

    /// libpq quotes the offending string (or a piece of it) in double quotes: drop those parts.
    static func withoutQuotedText(_ message: String) -> String {
        var result = ""
        var inQuote = false
        for character in message {
            if character == "\"" {
                if !inQuote { result += "\"…\"" }
                inQuote.toggle()
            } else if !inQuote {
                result.append(character)
            }
        }
        return result
    }

    /// Passwords this configuration may use, to scrub from any text that leaves the module:
    /// the parsed one, what looks like one in a string that does not parse, and PGPASSWORD.
    var secrets: [String] {
        var result: [String] = []
        if let password = parsedFields()?["password"], !password.isEmpty { result.append(password) }
        result += Self.likelySecrets(in: connectionString)
        if let password = overrides["password"], !password.isEmpty { result.append(password) }
        if let variable = getenv("PGPASSWORD"), variable.pointee != 0 { result.append(String(cString: variable)) }
        return result.sorted { $0.count > $1.count }
    }

    /// What looks like a password in a connection string, parsed or not: the part after
    /// `user:` in a URL's authority, `password=` in a URL query, or a `password=` pair.
    static func likelySecrets(in text: String) -> [String] {
        var found: [String] = []
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            // The authority ends at the last '@' before the path (passwords may hold '/' or '@').
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                let password = rest[rest.index(after: colon)..<at]
                if !password.isEmpty { found.append(String(password)) }
                if let decoded = String(password).removingPercentEncoding, decoded != String(password), !decoded.isEmpty {
                    found.append(decoded)
                }
            }
        }
        var search = text[...]
        while let key = search.range(of: "password", options: .caseInsensitive) {
            var index = key.upperBound
            while index < search.endIndex && search[index] == " " { index = search.index(after: index) }
            guard index < search.endIndex && search[index] == "=" else { search = search[key.upperBound...]; continue }
            index = search.index(after: index)
            while index < search.endIndex && search[index] == " " { index = search.index(after: index) }
            var value = ""
            if index < search.endIndex && search[index] == "'" {
                index = search.index(after: index)
                while index < search.endIndex && search[index] != "'" {
                    if search[index] == "\\", search.index(after: index) < search.endIndex { index = search.index(after: index) }
                    value.append(search[index])
                    index = search.index(after: index)
                }
            } else {
                while index < search.endIndex && !" &'".contains(search[index]) {
                    value.append(search[index])
                    index = search.index(after: index)
                }
            }
            if !value.isEmpty {
                found.append(value)
                if let decoded = value.removingPercentEncoding, decoded != value, !decoded.isEmpty { found.append(decoded) }
            }
            search = search[min(index, search.endIndex)...]
        }
        return found
    }

    /// Removes every known password from a message (libpq should never echo one; belt and braces).
    public func scrub(_ text: String) -> String {
        var text = text
        for secret in secrets where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }

    /// `user@host:port/dbname`, from the string or the `PG*` defaults; never the password.
    public var description: String {
        guard let parsed = parsedFields() else { return "(unparseable connection string)" }
        func field(_ key: String, _ env: String) -> String? {
            if let v = fields[key], !v.isEmpty { return v }
            if let v = getenv(env) { let s = String(cString: v); return s.isEmpty ? nil : s }
            return nil
        }
        let fields = parsed.merging(overrides) { _, new in new }
        let user = field("user", "PGUSER").map { "\($0)@" } ?? ""
        let host = field("host", "PGHOST") ?? field("hostaddr", "PGHOSTADDR") ?? "default socket"
        let port = field("port", "PGPORT").map { ":\($0)" } ?? ""
        let db = field("dbname", "PGDATABASE").map { "/\($0)" } ?? ""
        return "\(user)\(host)\(port)\(db)"
    }
}

