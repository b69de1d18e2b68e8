import ArgumentParser
import Foundation
import Logging

/// `danser-batch score`: republish the top-K of the active sessions with the current champion
/// (after a promote or rollback, or to refresh between nights), without training.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score the active sessions with the current champion and publish, without training.")

    @Option(help: "Logical date YYYY-MM-DD; default today. Future dates are refused.")
    var asOf: LogicalDate?

    @Option(help: "Score only hash shard i of N of the sessions (0-based, e.g. 2/8); the last shard to finish publishes the day.")
    var shard: ShardSpec = .whole

    @OptionGroup var nightly: NightlyOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let asOf, asOf > LogicalDate.today() { throw ValidationError("--as-of \(asOf) is in the future.") }
    }

    func run() throws {
        output.bootstrap()
        ShutdownSignal.install()
        var settings = try nightly.settings(asOf: asOf ?? LogicalDate.today())
        settings.pipeline = .score(shard)
        settings.rerun = true
        var status = ExitStatus.ok
        try FailureReport.run { status = try NightlyCommand.runNight(settings, database: database, logger: Logger(label: "danser.score")) }
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}
