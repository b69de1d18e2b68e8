import ArgumentParser
import FeatureStore
import Foundation
import Logging
import Synchronization

/// The first log line of every command that uses the database says which one (never a password).
enum DatabaseAnnouncement {
    private static let done = Mutex(false)

    static func once(logger: Logger, _ database: String) {
        let first = done.withLock { wasDone in
            defer { wasDone = true }
            return !wasDone
        }
        if first { logger.info("using database \(database)", metadata: ["database": "\(database)"]) }
    }
}

/// Options of every command that touches the database. With no database setting present at
/// all, the embedded server in the state folder is used (started if needed); a setting that is
/// present but empty or unparseable is a configuration error (78).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Configuration file (default: DANSER_CONFIG, else ~/.config/danser-batch/config.toml, else /etc/danser-batch/config.toml, when present). Flags override the environment, which overrides the file.")
    var configFile: String?

    @Option(help: ArgumentHelp(
        "PostgreSQL URL or key=value string. Default: DATABASE_URL, else the PG* variables, else the embedded server.",
        discussion: "Never put a password here (ps shows it): use PGPASSWORD, ~/.pgpass or DATABASE_URL."))
    var databaseURL: String?

    @Option(help: "Folder of the embedded server. Default: DANSER_STATE_DIR, else $XDG_STATE_HOME/danser-batch, else ~/.local/state/danser-batch (as root: /var/lib/danser-batch).")
    var stateDir: String?

    @Option(help: "Folder of the numbered migrations. Default: DANSER_SQL_DIR, else the sql/ folder of this checkout or installation.")
    var sqlDir: String?

    @Option(help: "Attempts of a run through transient database failures (lost connection, server restart). Default: DANSER_RETRY_ATTEMPTS, else 8.")
    var retryAttempts: Int?

    @Option(help: "Seconds before the first retry; each later wait doubles. Default: DANSER_RETRY_DELAY_SECONDS, else 5.")
    var retryDelay: Double?

    @Option(help: "Longest wait between retries, in seconds. Default: DANSER_RETRY_MAX_DELAY_SECONDS, else 60.")
    var retryMaxDelay: Double?

    func validate() throws {
        if let databaseURL, databaseURL.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--database-url is empty: give a URL or leave the option out.")
        }
        if let retryAttempts, retryAttempts < 1 { throw ValidationError("--retry-attempts must be 1 or more (1: no retry).") }
        if let retryDelay, retryDelay < 0 { throw ValidationError("--retry-delay must be 0 or more seconds.") }
        if let retryMaxDelay, retryMaxDelay < 0 { throw ValidationError("--retry-max-delay must be 0 or more seconds.") }
        // A string that does not parse is reported when it is used (exit 78), never echoed.
        if let databaseURL, (try? ConnectionConfiguration(databaseURL).validate()) != nil,
            ConnectionConfiguration(databaseURL).containsPassword
        {
            throw ValidationError("--database-url must not contain a password (ps shows command lines). Use PGPASSWORD, ~/.pgpass or DATABASE_URL instead.")
        }
    }

    /// The environment with the configuration file's values under their variable names.
    var environment: [String: String] { Settings.current.mergedEnvironment }

    /// The configured server, or nil when no database setting is present at all (the embedded
    /// server is then used). Empty or unparseable: a configuration error naming the setting.
    var configuredServer: ConnectionConfiguration? {
        get throws {
            let settings = Settings.current
            guard let configured = try ConnectionConfiguration.resolve(
                databaseURL: databaseURL, environment: environment, name: settings.describe(variable:))
            else { return nil }
            do {
                try configured.validate()
            } catch let error as FeatureStoreError {
                let source = databaseURL != nil ? "--database-url" : settings.describe(variable: "DATABASE_URL")
                throw FeatureStoreError(.configuration, "\(source): \(error.message)", hint: error.hint)
            }
            return configured
        }
    }

    var embeddedServer: EmbeddedServer {
        EmbeddedServer(stateDirectory: EmbeddedServer.defaultStateDirectory(explicit: stateDir, environment: environment))
    }

    /// Where to connect: the configured server, or the embedded one, started if needed.
    func connectionConfiguration(logger: Logger) throws -> ConnectionConfiguration {
        if let configured = try configuredServer {
            DatabaseAnnouncement.once(logger: logger, "\(configured)")
            return configured
        }
        DatabaseAnnouncement.once(logger: logger, "embedded server in \(embeddedServer.stateDirectory)")
        return try embeddedServer.start(logger: logger)
    }

    /// Where to connect without starting anything (for `status`): the configured server, or the
    /// embedded one only when it is running; nil when it is not.
    func existingServerConfiguration(logger: Logger) throws -> ConnectionConfiguration? {
        if let configured = try configuredServer {
            DatabaseAnnouncement.once(logger: logger, "\(configured)")
            return configured
        }
        let embedded = embeddedServer
        DatabaseAnnouncement.once(logger: logger, "embedded server in \(embedded.stateDirectory)")
        guard case .running = embedded.status() else { return nil }
        return embedded.configuration
    }

    /// The migrations shipped with this program.
    func migrations() throws -> [Migration] {
        guard let folder = sqlFolder() else {
            throw FeatureStoreError(.configuration, "cannot find the sql/ folder of migrations",
                hint: "pass --sql-dir or set DANSER_SQL_DIR")
        }
        return try Migration.load(from: folder)
    }

    func sqlFolder() -> String? {
        Migration.locateDirectory(explicit: sqlDir, environment: environment, executablePath: Self.executablePath)
    }

    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Connects without applying migrations (for commands that must not change the schema):
    /// a database that lacks one is a configuration error (78) saying to run `migrate`.
    func unmigratedConnection(_ configuration: ConnectionConfiguration, logger: Logger) throws -> Connection {
        let connection = try Database(configuration, logger: logger).connection()
        let pending = try Migrator(try migrations(), logger: logger).pending(on: connection)
        guard pending.isEmpty else {
            throw FeatureStoreError(.configuration, "the database lacks migrations \(pending.map(\.name).joined(separator: ", "))",
                hint: "run danser-batch migrate as the schema owner first")
        }
        return connection
    }

    /// Connects and applies pending migrations (every database command needs the schema).
    func migratedConnection(logger: Logger) throws -> Connection {
        let configuration = try connectionConfiguration(logger: logger)
        let connection = try Database(configuration, logger: logger).connection()
        let migrator = Migrator(try migrations(), logger: logger)
        // Read-only check first: a job role that may not create schemas still runs on an
        // up-to-date database; only pending migrations need the owner's rights.
        if try !migrator.pending(on: connection).isEmpty {
            do {
                try migrator.apply(on: connection)
            } catch let error as FeatureStoreError where error.code == .permissionDenied {
                throw FeatureStoreError(.permissionDenied, "the database lacks migrations and this role may not apply them: \(error.message)",
                    sqlState: error.sqlState, hint: "run danser-batch migrate as the schema owner first")
            }
        }
        return connection
    }
}
