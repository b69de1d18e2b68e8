import ArgumentParser
import FeatureStore
import Foundation

/// The `danser-batch` command: one subcommand per job.
@main
struct DanserBatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "danser-batch",
        abstract: "Nightly DANSeR session recommender: ingest, train, publish features, precompute top-K.",
        version: "0.1.0",
        subcommands: [
            NightlyCommand.self, ScoreCommand.self, BackfillCommand.self, ModelsCommand.self, StatusCommand.self, DemoCommand.self, GenerateCommand.self, MigrateCommand.self, DbCommand.self, ImportCommand.self,
            ExperimentCommand.self, BenchCommand.self, ServingBenchCommand.self,
            PruneCommand.self, FeaturesCommand.self, ConfigCommand.self,
        ]
    )

    /// Reads the settings (configuration file and environment) before the command line is
    /// parsed, since the options take their defaults from them; a bad setting exits 78.
    static func main() async {
        // A parent may start us with SIGTERM/SIGINT blocked (a test runner's worker thread, some
        // supervisors); the graceful stop needs them delivered.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            try Settings.loadForProcess(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        } catch {
            LogOutput.formatBeforeBootstrap = LogOutput.requestedFormat(arguments: arguments, environment: ProcessInfo.processInfo.environment)
            Foundation.exit((FailureReport.exit(error) as? ExitCode)?.rawValue ?? ExitStatus.config.rawValue)
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
