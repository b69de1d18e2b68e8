import ArgumentParser
import FeatureStore
import Logging

/// `danser-batch demo`: the README's first command. Starts (or reuses) the embedded database,
/// applies migrations and shows where everything is.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the embedded database (or use DATABASE_URL), apply migrations and show its state."
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        output.bootstrap()
        let logger = Logger(label: "danser.demo")
        try FailureReport.run {
            let embedded = database.configuredServer == nil ? database.embeddedServer : nil
            let connection = try database.migratedConnection(logger: logger)
            if let embedded {
                print("database:   embedded PostgreSQL, \(embedded.status())")
                print("state:      \(embedded.stateDirectory)")
                print("url:        \(embedded.url)")
            } else {
                print("database:   \(connection.configuration)")
            }
            let version = try connection.query("SHOW server_version").scalar()?.stringValue ?? "?"
            let migrations = try connection.query("SELECT count(*), max(name) FROM danser.schema_migrations").rows()[0]
            let clicks = try connection.query("SELECT count(*) FROM danser.click_log").scalar()?.int64Value ?? 0
            let imports = try connection.query("SELECT count(*) FROM danser.imports").scalar()?.int64Value ?? 0
            let quarantined = try connection.query("SELECT count(*) FROM danser.quarantine").scalar()?.int64Value ?? 0
            print("server:     PostgreSQL \(version)")
            print("schema:     \(migrations[0].int64Value ?? 0) migrations applied (latest \(migrations[1].stringValue ?? "-"))")
            print("click log:  \(clicks) clicks from \(imports) imports, \(quarantined) rows quarantined")
            print("next:       danser-batch import FILE   (stop the server with: danser-batch db stop)")
        }
    }
}
