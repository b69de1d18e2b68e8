import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch migrate`: applies the numbered migrations of sql/ (and optionally roles.sql).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations; refuse when an applied migration was edited.",
        discussion: "Exit 78 when an applied migration file changed or the database is newer than this program."
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Also apply sql/roles.sql (job and BI roles and their grants); needs CREATEROLE.")
    var roles = false

    @Flag(help: "Only list pending migrations.")
    var dryRun = false

    func run() throws {
        output.bootstrap()
        let logger = Logger(label: "danser.migrate")
        try FailureReport.run {
            let configuration = try database.connectionConfiguration(logger: logger)
            let connection = try Database(configuration, logger: logger).connection()
            let migrator = Migrator(try database.migrations(), logger: logger)
            if dryRun {
                let pending = try migrator.pending(on: connection)
                print(pending.isEmpty ? "no pending migrations" : pending.map(\.name).joined(separator: "\n"))
                return
            }
            let outcome = try migrator.apply(on: connection)
            for migration in outcome.applied { print("applied \(migration.name)") }
            print("\(outcome.applied.count) applied, \(outcome.alreadyApplied) already in place (\(configuration))")
            if roles {
                let path = (database.sqlFolder() ?? "sql") + "/roles.sql"
                guard let script = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw FeatureStoreError(.configuration, "cannot read \(path)")
                }
                try Migrator.applyRoles(script: script, on: connection)
                print("roles applied: danser_job, danser_bi")
            }
        }
    }
}
