import ArgumentParser

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
            PruneCommand.self, FeaturesCommand.self,
        ]
    )
}
