import ArgumentParser
import DANSeR
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
        restartIfBLASKernelIsAFallback()
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
            if exitCode(for: error) == .validationFailure, let origin = settingOrigin(refusedBy: message(for: error)) {
                // The option refused a value the user never typed: point at where it came from.
                FileHandle.standardError.write(Data("Error: \(message(for: error))\nThe value came from \(origin); correct it there.\n".utf8))
                Foundation.exit(ExitStatus.config.rawValue)
            }
            exit(withError: error)
        }
    }

    /// OpenBLAS chose its kernels when it loaded, before `main`. When it fell back to an old
    /// kernel on a CPU it did not recognise, start again once, as the same process (exec), with
    /// the right kernel named. An `OPENBLAS_CORETYPE` already set is left as it is, so this
    /// never loops; if the exec fails the job goes on with the kernel it has.
    static func restartIfBLASKernelIsAFallback() {
        // The common case (a kernel chosen for the CPU) costs one string compare, no file read.
        guard BLASKernelChoice.isFallback(BLASKernelChoice.detectedCore),
            ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
            let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = MachineDescription.field("flags", in: cpuinfo),
            let kernel = BLASKernelChoice.correction(
                core: BLASKernelChoice.detectedCore, flags: Set(flags.split(separator: " ").map(String.init)),
                vendor: MachineDescription.field("vendor_id", in: cpuinfo) ?? "")
        else { return }
        setenv(BLASKernelChoice.detectedVariable, BLASKernelChoice.detectedCore, 1)
        setenv("OPENBLAS_CORETYPE", kernel, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(BLASKernelChoice.detectedVariable)
    }

    /// Where the value an option's validation refused came from, when that was the configuration
    /// file or the environment rather than the command line (nil otherwise).
    static func settingOrigin(refusedBy message: String) -> Settings.Origin? {
        for key in SettingKey.all where message.contains(key.flag) {
            let origin = Settings.current.resolved(key).origin
            switch origin {
            case .file, .environment: return origin
            case .builtIn, .flag: continue
            }
        }
        return nil
    }
}
