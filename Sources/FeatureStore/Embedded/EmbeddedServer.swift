internal import Foundation
public import Logging

/// A private PostgreSQL cluster in a state folder, run with the installed server's `initdb`
/// and `pg_ctl`. Unix socket only (no TCP), trust authentication on that socket, whose
/// folder only the server's OS user (and root) can enter. When we run as root the server
/// runs as the `postgres` OS user, because PostgreSQL refuses to run as root.
public struct EmbeddedServer: Sendable {
    public enum Status: Sendable, Equatable, CustomStringConvertible {
        case notInitialized
        case stopped
        case running(pid: Int32)

        public var description: String {
            switch self {
            case .notInitialized: return "not initialized"
            case .stopped: return "stopped"
            case .running(let pid): return "running (pid \(pid))"
            }
        }
    }

    public let stateDirectory: String
    /// Port number; with no TCP it only names the socket file. Default 5432.
    public var port: Int = 5432
    /// Superuser created by `initdb`. Default `danser`.
    public var superuser = "danser"
    /// Database created on first start. Default `danser`.
    public var databaseName = "danser"
    /// Turns off fsync and full-page writes: for throwaway test clusters only. Default false.
    public var unsafeFast = false

    /// A relative `stateDirectory` is taken from the current directory: the socket's folder is the
    /// connection's host, and libpq reads a host that is not an absolute path as a host name.
    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory.hasPrefix("/") ? stateDirectory : URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
    }

    var serverDirectory: String { stateDirectory + "/postgres" }
    public var dataDirectory: String { serverDirectory + "/data" }
    public var socketDirectory: String { serverDirectory + "/run" }
    public var logFile: String { serverDirectory + "/server.log" }

    /// `--state-dir`, else `DANSER_STATE_DIR`, else `$XDG_STATE_HOME/danser-batch`, else
    /// `~/.local/state/danser-batch`; as root `/var/lib/danser-batch`, because the server
    /// runs as `postgres` and that user cannot enter root's home.
    public static func defaultStateDirectory(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let dir = environment["DANSER_STATE_DIR"], !dir.isEmpty { return dir }
        if geteuid() == 0 { return "/var/lib/danser-batch" }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/danser-batch" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/danser-batch"
    }

    /// How to reach the running server.
    public var configuration: ConnectionConfiguration {
        ConnectionConfiguration("host=\(socketDirectory) port=\(port) user=\(superuser) dbname=\(databaseName)")
    }

    /// The same as a URL, for `DATABASE_URL`.
    public var url: String {
        let host = socketDirectory.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketDirectory
        return "postgresql://\(superuser)@/\(databaseName)?host=\(host)&port=\(port)"
    }

    public func status() -> Status {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dataDirectory + "/PG_VERSION") else { return .notInitialized }
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let firstLine = text.split(separator: "\n").first, let pid = Int32(firstLine.trimmingCharacters(in: .whitespaces))
        else { return .stopped }
        if kill(pid, 0) == 0 || errno == EPERM { return .running(pid: pid) }
        return .stopped
    }

    /// Creates the cluster if needed, starts it if stopped, creates the database; idempotent.
    @discardableResult
    public func start(logger: Logger = Logger(label: "danser.embedded")) throws -> ConnectionConfiguration {
        let bin = try Self.serverBinDirectory()
        if status() == .notInitialized { try initialize(bin: bin, logger: logger) }
        if case .running = status() {
            logger.debug("embedded server already running", metadata: ["state_dir": "\(stateDirectory)"])
        } else {
            logger.info("starting embedded PostgreSQL", metadata: ["state_dir": "\(stateDirectory)"])
            // The socket goes where this state folder is now: postgresql.conf names the folder the
            // cluster was created in, and a state folder restored or moved elsewhere must still start.
            let socketOption = "-k '" + socketDirectory.replacingOccurrences(of: "'", with: "'\\''") + "'"
            try runAsServerUser(
                bin + "/pg_ctl", ["start", "-w", "-t", "60", "-s", "-D", dataDirectory, "-l", logFile, "-o", socketOption],
                what: "start the embedded server (see \(logFile))")
        }
        try createDatabaseIfMissing()
        return configuration
    }

    /// Stops the server (fast shutdown: running transactions roll back); a no-op when stopped.
    public func stop() throws {
        guard case .running = status() else { return }
        let bin = try Self.serverBinDirectory()
        try runAsServerUser(bin + "/pg_ctl", ["stop", "-w", "-t", "60", "-s", "-m", "fast", "-D", dataDirectory], what: "stop the embedded server")
    }

    private func initialize(bin: String, logger: Logger) throws {
        logger.info("creating embedded PostgreSQL cluster", metadata: ["state_dir": "\(stateDirectory)"])
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: serverDirectory, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
            if fm.fileExists(atPath: dataDirectory) { try fm.removeItem(atPath: dataDirectory) }
        } catch {
            throw FeatureStoreError(.embeddedServer, "cannot create the state folder \(stateDirectory): \(error.localizedDescription)",
                hint: "choose a writable folder with --state-dir or DANSER_STATE_DIR")
        }
        chmod(serverDirectory, 0o700)
        chmod(socketDirectory, 0o700)
        if geteuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw FeatureStoreError(.embeddedServer, "running as root needs the `postgres` OS user to run the embedded server",
                    hint: "install the postgresql package, or run as an ordinary user")
            }
            for path in [serverDirectory, socketDirectory] { chown(path, user.pointee.pw_uid, user.pointee.pw_gid) }
            chmod(stateDirectory, 0o755)
            if !canServerUserEnter(serverDirectory) {
                throw FeatureStoreError(.embeddedServer, "the postgres OS user cannot reach \(serverDirectory)",
                    hint: "choose a --state-dir outside root's home, e.g. /var/lib/danser-batch")
            }
        }
        try runAsServerUser(
            bin + "/initdb",
            ["-D", dataDirectory, "-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"],
            what: "initialize the embedded cluster")
        var settings = """

            # danser-batch embedded server: Unix socket only, no TCP.
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory)'
            unix_socket_permissions = 0700
            port = \(port)

            """
        if unsafeFast { settings += "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n" }
        guard let handle = FileHandle(forWritingAtPath: dataDirectory + "/postgresql.conf") else {
            throw FeatureStoreError(.embeddedServer, "cannot write \(dataDirectory)/postgresql.conf")
        }
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        handle.closeFile()
    }

    private func createDatabaseIfMissing() throws {
        let connection = try Connection(configuration.withDatabase("postgres"))
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(databaseName)]).rowCount > 0
        if !exists { try connection.query("CREATE DATABASE \(SQLIdentifier.quote(databaseName))") }
    }

    private func canServerUserEnter(_ path: String) -> Bool {
        (try? Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "test", "-w", path])) != nil
    }

    /// Runs a server program as ourselves, or as `postgres` when we are root.
    private func runAsServerUser(_ program: String, _ arguments: [String], what: String) throws {
        do {
            if geteuid() == 0 {
                _ = try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
            } else {
                _ = try Self.run(program, arguments)
            }
        } catch let error as FeatureStoreError {
            throw FeatureStoreError(.embeddedServer, "could not \(what): \(error.message)")
        }
    }

    /// Runs a program to completion; throws with its output's last lines when it fails.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let result = try Subprocess.run(program, arguments)
        guard result.status == 0 else {
            let tail = result.output.split(separator: "\n").suffix(3).joined(separator: " ")
            throw FeatureStoreError(.embeddedServer, "\((program as NSString).lastPathComponent) exited with \(result.status): \(tail)")
        }
        return result.output
    }

    /// `DANSER_PG_BINDIR`, else a PATH folder with both `initdb` and `pg_ctl`, else the
    /// newest `/usr/lib/postgresql/N/bin`.
    public static func serverBinDirectory() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let fm = FileManager.default
        func hasBoth(_ dir: String) -> Bool {
            fm.isExecutableFile(atPath: dir + "/initdb") && fm.isExecutableFile(atPath: dir + "/pg_ctl")
        }
        if let dir = environment["DANSER_PG_BINDIR"], hasBoth(dir) { return dir }
        for dir in (environment["PATH"] ?? "").split(separator: ":").map(String.init) where hasBoth(dir) { return dir }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where hasBoth("/usr/lib/postgresql/\(version)/bin") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw FeatureStoreError(.embeddedServer, "no PostgreSQL server programs (initdb, pg_ctl) found",
            hint: "install the postgresql package, set DANSER_PG_BINDIR, or set DATABASE_URL to use an existing server")
    }
}
