import ArgumentParser
import FeatureStore
import Foundation

/// `danser-batch config`: the effective settings and where each came from.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the effective configuration and where each value came from (default, file, env, flag).",
        discussion: """
            Settings come from the configuration file (--config-file, else DANSER_CONFIG, else \
            ~/.config/danser-batch/config.toml or /etc/danser-batch/config.toml when present), then the \
            environment (DATABASE_URL, DANSER_*), then the command line's flags, each overriding the one \
            before. Passwords are never shown. Give this command the same flags as the job to see what it \
            would use. Exit codes: 0, 64 usage, 78 a bad setting (named).
            """
    )

    @Option(name: .customLong("keep-days"), help: "As prune's.") var keepDays: Int?
    @Option(name: .customLong("keep-models"), help: "As prune's.") var keepModels: Int?
    @Option(name: .customLong("max-age"), help: "As status'.") var maxAge: Double?
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup var nightly: NightlyOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        output.bootstrap()
        try FailureReport.run {
            let settings = Settings.current
            print(Self.render(settings, database: try Self.databaseInUse(database)))
        }
    }

    /// What the commands would connect to.
    static func databaseInUse(_ database: DatabaseOptions) throws -> String {
        if let configured = try database.configuredServer { return "\(configured)" }
        return "embedded server in \(database.embeddedServer.stateDirectory)"
    }

    /// The table `config` prints.
    static func render(_ settings: Settings, database: String) -> String {
        var lines: [String] = []
        if let file = settings.file {
            lines.append("configuration file: \(file.path)")
        } else {
            let looked = Settings.defaultFileLocations(environment: settings.environment).joined(separator: ", ")
            lines.append("configuration file: none (looked for \(looked); --config-file or DANSER_CONFIG name one)")
        }
        lines.append("database in use: \(database)")
        let rows = SettingKey.all.map { key -> (String, String, String) in
            let effective = settings.effective(key)
            return (key.key, shown(effective.value, kind: key.kind), effective.origin.description)
        }
        let keyWidth = rows.map(\.0.count).max() ?? 0
        let valueWidth = min(48, rows.map(\.1.count).max() ?? 0)
        lines.append("")
        lines.append(pad("setting", keyWidth) + "  " + pad("value", valueWidth) + "  from")
        for (key, value, origin) in rows {
            lines.append(pad(key, keyWidth) + "  " + pad(value, valueWidth) + "  " + origin)
        }
        return lines.joined(separator: "\n")
    }

    /// The value as printed: `-` when unset, a connection string without its password.
    static func shown(_ value: String?, kind: SettingKey.Kind) -> String {
        guard let value else { return "-" }
        if kind == .connection { return ConnectionConfiguration(value).scrub(value) }
        return value.isEmpty ? "\"\"" : value
    }

    private static func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
}
