import ArgumentParser
import FeatureStore
import DANSeR
import Foundation
import Logging

/// `danser-batch demo`: the README's first command. On the embedded database (or DATABASE_URL):
/// migrations, a SYNTHETIC click history if the click log is empty, one nightly run for the day
/// after the last click, then a summary, the top-K of a few sessions and where the report is.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the nightly job on a generated, clearly SYNTHETIC history: no data or database setup needed.",
        discussion: "Run it again and it reuses the database and the data; a date already done is not recomputed."
    )

    @Option(help: "Sessions of synthetic history to generate when the click log is empty.")
    var sessions = 20_000

    @Option(help: "Days of synthetic history.")
    var days = 7

    @Option(help: "Most epochs of training (validation may stop it earlier).")
    var epochs = 3

    @Option(help: "Model configuration preset: danser or srgnn.")
    var config = "danser"

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (100...1_000_000).contains(sessions) else { throw ValidationError("--sessions must be between 100 and 1,000,000.") }
        guard (2...60).contains(days) else { throw ValidationError("--days must be between 2 and 60.") }
        guard (1...50).contains(epochs) else { throw ValidationError("--epochs must be between 1 and 50.") }
        guard ModelConfiguration.preset(named: config) != nil else { throw ValidationError("--config must be danser or srgnn (got '\(config)').") }
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        let logger = Logger(label: "danser.demo")
        var status = ExitStatus.ok
        try FailureReport.run {
            let connection = try database.migratedConnection(logger: logger)
            if try database.configuredServer == nil {
                let embedded = database.embeddedServer
                print("database: embedded PostgreSQL in \(embedded.stateDirectory) (\(embedded.status()))")
            } else {
                print("database: \(connection.configuration)")
            }
            let clicks = try connection.query("SELECT count(*) FROM danser.click_log").scalar()?.int64Value ?? 0
            if clicks == 0 { try generateAndImport(logger: logger) }
            guard let lastClick = try connection.query("SELECT max(event_time) FROM danser.click_log").scalar()?.timestampMicros else {
                throw JobError(.tooLittleData, "the click log is empty")
            }
            let asOf = LogicalDate(day: lastClick / 86_400_000_000 + 1)
            var settings = NightlySettings(asOf: min(asOf, LogicalDate.today()))
            settings.epochs = epochs
            settings.configurationName = config.lowercased()
            settings.configuration = ModelConfiguration.preset(named: config)!
            settings.reportDirectory = Settings.current.optional(.reportDir)
            print("nightly run for as-of \(settings.asOf) (at most \(epochs) epochs, chosen on validation; progress on standard error)")
            print("model: \(settings.configurationName): \(settings.configuration.summary)")
            status = try NightlyCommand.runNight(settings, database: database, logger: logger)
            try showRecommendations(connection)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// A SYNTHETIC history ending at today's midnight, written to the state folder and imported.
    private func generateAndImport(logger: Logger) throws {
        var options = SyntheticClickLog.Options()
        options.sessions = sessions
        options.days = days
        options.endMicros = LogicalDate.today().startMicros
        let folder = try database.configuredServer == nil ? database.embeddedServer.stateDirectory : FileManager.default.temporaryDirectory.path
        let path = folder + "/synthetic-clicks-\(LogicalDate.today()).csv.gz"
        let count = try GenerateCommand.write(options, to: path)
        print("generated \(count) SYNTHETIC clicks (\(sessions) sessions over \(days) days) in \(path)")
        let db = Database(try database.connectionConfiguration(logger: logger), logger: logger)
        let outcome = try ClickImporter(database: db, logger: logger).importFile(path, format: .genericCSV)
        print(ImportCommand.summary(outcome))
    }

    /// The top 5 of three sessions, as an analyst would query them from the BI view.
    private func showRecommendations(_ connection: Connection) throws {
        let sample = try connection.query("""
            SELECT session_id FROM bi.recommendations_current WHERE rank = 1 ORDER BY session_id LIMIT 3
            """).rows().compactMap { $0.first?.stringValue }
        guard !sample.isEmpty else {
            print("no current recommendations to show")
            return
        }
        print("\ntop 5 of three sessions (SELECT ... FROM bi.recommendations_current WHERE session_id = ...):")
        for session in sample {
            let rows = try connection.query(
                "SELECT rank, item_id, score FROM bi.recommendations_current WHERE session_id = $1 AND rank <= 5 ORDER BY rank", [.text(session)]
            ).rows()
            print("  \(session): " + rows.map { "\($0[0].int64Value ?? 0). \($0[1].stringValue ?? "?")" }.joined(separator: "  "))
        }
        let day = try connection.query("""
            SELECT as_of::text, sessions, recommendation_rows, fallback_sessions, model_version FROM bi.days WHERE is_current
            """).rows()
        if let day = day.first {
            print("\nthe current day (SELECT ... FROM bi.days WHERE is_current): as_of \(day[0].stringValue ?? "?"), "
                + "\(day[1].int64Value ?? 0) sessions, \(day[2].int64Value ?? 0) rows, "
                + "\(day[3].int64Value.map(String.init) ?? "?") sessions given the popularity fallback, model \(day[4].int64Value ?? 0)")
        }
    }
}
