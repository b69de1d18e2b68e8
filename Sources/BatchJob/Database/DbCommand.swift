import ArgumentParser
import FeatureStore
import Logging

/// `danser-batch db start|stop|status|url`: manages the embedded PostgreSQL.
struct DbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL server (used when no database is configured).",
        subcommands: [Start.self, Stop.self, Status.self, URL.self]
    )

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create (first time) and start the embedded server, apply migrations.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            output.bootstrap()
            try FailureReport.run {
                let server = database.embeddedServer
                try server.start(logger: Logger(label: "danser.db"))
                let connection = try Connection(server.configuration)
                let outcome = try Migrator(try database.migrations()).apply(on: connection)
                print("embedded PostgreSQL \(server.status()) in \(server.stateDirectory); \(outcome.applied.count) migration(s) applied")
                print("DATABASE_URL=\(server.url)")
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded server (its data stays).")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try FailureReport.run {
                let server = database.embeddedServer
                let before = server.status()
                try server.stop()
                print(before == server.status() ? "embedded PostgreSQL was \(before)" : "embedded PostgreSQL stopped")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the embedded server runs; exit 69 when it does not.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let server = database.embeddedServer
            let status = server.status()
            print("state folder: \(server.stateDirectory)")
            print("status:       \(status)")
            if case .running = status {
                print("socket:       \(server.socketDirectory)")
                print("url:          \(server.url)")
            } else {
                throw ExitCode(ExitStatus.unavailable.rawValue)
            }
        }
    }

    struct URL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url", abstract: "Print the embedded server's connection URL (for DATABASE_URL or psql).")
        @OptionGroup var database: DatabaseOptions

        func run() throws { print(database.embeddedServer.url) }
    }
}
