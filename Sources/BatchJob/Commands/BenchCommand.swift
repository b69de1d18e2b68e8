import ArgumentParser
import DANSeR
import Foundation

/// `danser-batch bench`: the training kernels against a plain sgemm of the scoring shape, then
/// training throughput on a slice of Diginetica, all in one process so the ratios are fair.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the numeric core: scoring GFLOP/s against a plain cblas_sgemm, and training prefixes/s.",
        discussion: "Run on an otherwise idle machine; figures are ratios against a baseline measured in the same run."
    )

    @Option(help: "Threads for BLAS and element-wise work.")
    var threads = 2

    @Option(help: "Repetitions per kernel.")
    var repetitions = 20

    @Option(help: "Click log for the training benchmark (default: ../shared/data/diginetica/clicks.csv.gz).")
    var clicks = "../shared/data/diginetica/clicks.csv.gz"

    @Option(help: "Training sessions (the most recent) for the training benchmark; 0 for all of them.")
    var trainSessions = 5_000

    @Flag(help: "Train one epoch of each preset (SR-GNN, then DANSeR) on the same data and compare: seconds per epoch, prefixes/s, peak memory, phases and the ratio.")
    var presets = false

    @Flag(help: "Full against sampled softmax: DANSeR training prefixes/s on synthetic catalogues of --items items, both back to back in this process, and the projected epoch.")
    var sampled = false

    @Option(help: "With --sampled: catalogue sizes, comma-separated.")
    var items = "1000000"

    @Option(help: "With --sampled: synthetic training prefixes trained on each side.")
    var prefixes = 3_000

    @Option(help: "With --sampled: popularity-sampled negatives per batch.")
    var sampledNegatives = SampledSoftmax.defaultNegatives

    @Option(help: "With --sampled: training prefixes of the epoch to project (comma-separated).")
    var epochPrefixes = "719470,10000000"

    func validate() throws {
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256 (got \(threads)).") }
        guard trainSessions >= 0 else { throw ValidationError("--train-sessions must be 0 (all) or more (got \(trainSessions)).") }
        guard let sizes = Self.counts(items), sizes.allSatisfy({ (1...20_000_000).contains($0) }) else {
            throw ValidationError("--items must be comma-separated item counts between 1 and 20,000,000 (got '\(items)').")
        }
        guard Self.counts(epochPrefixes)?.allSatisfy({ $0 >= 1 }) == true else {
            throw ValidationError("--epoch-prefixes must be comma-separated counts of 1 or more (got '\(epochPrefixes)').")
        }
        guard (100...10_000_000).contains(prefixes) else { throw ValidationError("--prefixes must be between 100 and 10,000,000 (got \(prefixes)).") }
        try TrainingOptions.validateSampling(above: 0, negatives: sampledNegatives)
    }

    func run() throws {
        print(MachineDescription.current(threads: threads))
        if presets { return try comparePresets() }
        if sampled { return try compareSampled() }
        BLAS.setThreadCount(threads)
        let f = try KernelBenchmark.run(repetitions: repetitions, threads: threads)
        print("kernels, B 100, d 100, N 43,097, \(threads) threads, \(repetitions) repetitions:")
        print(String(format: "  plain cblas_sgemm (100x100)*(100x43097):  %7.1f GFLOP/s  (ceiling)", f.plainProduct))
        print(String(format: "  scoring forward  s*E^T:                   %7.1f GFLOP/s  = %.2f of ceiling",
                     f.scoring, f.scoring / f.plainProduct))
        print(String(format: "  scoring backward (two products):          %7.1f GFLOP/s  = %.2f of ceiling",
                     f.scoringBackward, f.scoringBackward / f.plainProduct))
        print(String(format: "    dE = dL^T s alone, 1 thread:            %7.1f GFLOP/s", f.embeddingGradient))
        print(String(format: "    ds = dL E alone, 1 thread:              %7.1f GFLOP/s", f.sessionGradient))
        print(String(format: "  fused softmax cross-entropy:              %7.2f ms per batch", f.lossMilliseconds))
        print(String(format: "  Adam over 4.35 M weights:                 %7.2f ms per step (%.1f GB/s)",
                     f.adamMilliseconds, f.adamGigabytesPerSecond))
        guard FileManager.default.fileExists(atPath: clicks) else {
            print("training benchmark skipped: \(clicks) not found (it needs the ../shared data)")
            return
        }
        let experiment = try ExperimentCommand.parse([
            "--clicks", clicks, "--test-from", "2016-05-25", "--epochs", "1", "--threads", "\(threads)",
            "--train-sessions", "\(trainSessions == 0 ? Int.max : trainSessions)", "--test-sessions", "500",
            "--config", "srgnn",
        ])
        print("training, SR-GNN on the most recent \(trainSessions == 0 ? "all" : "\(trainSessions)") Diginetica training sessions, 1 epoch:")
        try experiment.run()
    }

    static func counts(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { return nil }
        return values.map { $0! }
    }

    /// DANSeR with the full softmax, then with the sampled one, on the same synthetic prefixes
    /// over catalogues of each size: prefixes/s, items scored per prefix, and the epoch projected
    /// from the measured rate.
    private func compareSampled() throws {
        BLAS.setThreadCount(1)
        let configuration = ModelConfiguration.danser
        let projections = Self.counts(epochPrefixes)!
        print("DANSeR preset (d \(configuration.hiddenSize), batch \(configuration.batchSize)), \(threads) threads, seed 1; "
            + "synthetic sessions of 6 clicks, items log-uniform over the catalogue (a Zipf-like 1/rank popularity); "
            + "about \(prefixes) training prefixes per side, full softmax then sampled (\(sampledNegatives) popularity negatives a batch) "
            + "in this process; CPU seconds (all threads) beside wall-clock")
        print("items      softmax  prefixes  wall s   CPU s  prefixes/s  items/prefix  peak MiB  | projected epoch (wall) for "
            + projections.map { "\($0) prefixes" }.joined(separator: ", "))
        for itemCount in Self.counts(items)! {
            var random = RandomSource(seed: 7)
            let logItems = log(Double(itemCount))
            let sessions: [Session] = (0..<((prefixes + 4) / 5)).map { _ in
                (0..<6).map { _ in Int32(min(itemCount, max(1, Int(exp(Double(random.uniform(0, 1)) * logItems))))) }
            }
            let examples = PrefixSet(sessions: sessions)
            var rates: [Double] = []
            for sampling in [nil, SampledSoftmax(negatives: sampledNegatives)] {
                _ = ProcessMemory.resetPeak()
                var trainer = try Trainer(configuration: configuration, itemCount: itemCount, seed: 1, threads: threads)
                trainer.sampling = sampling
                let start = Date()
                let cpuStart = ProcessTime.cpuSeconds()
                let summary = try trainer.trainEpoch(on: examples)
                let elapsed = Date().timeIntervalSince(start)
                let cpu = ProcessTime.cpuSeconds() - cpuStart
                let rate = Double(summary.examples) / elapsed
                rates.append(rate)
                let t = trainer.timings
                let projected = projections.map { Self.duration(Double($0) / rate) }.joined(separator: ", ")
                let name = (sampling == nil ? "full" : "sampled").padding(toLength: 7, withPad: " ", startingAt: 0)
                print(String(format: "%-9d  ", itemCount) + name + String(
                    format: "  %8d  %6.1f  %6.1f  %10.0f  %12.0f  %8.0f  | ", summary.examples, elapsed, cpu, rate,
                    Double(t.scoredColumns) / Double(max(1, t.scoredRows)), ProcessMemory.peakMiB()) + projected)
                fflush(nil)
            }
            print(String(format: "  %d items: sampled / full prefixes/s = %.1fx", itemCount, rates[1] / rates[0]))
            fflush(nil)
        }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return String(format: "%.0f s", seconds) }
        if seconds < 7_200 { return String(format: "%.1f min", seconds / 60) }
        if seconds < 172_800 { return String(format: "%.1f h", seconds / 3_600) }
        return String(format: "%.1f days", seconds / 86_400)
    }

    /// One epoch of each preset on the same training prefixes, side by side in one process.
    private func comparePresets() throws {
        guard FileManager.default.fileExists(atPath: clicks) else {
            printError("\(clicks) not found: pass --clicks with a click log (generic CSV, e.g. the Diginetica benchmark file).")
            throw ExitCode(ExitStatus.noInput.rawValue)
        }
        // The trainer splits the work itself: BLAS runs single-threaded, as in `experiment`.
        BLAS.setThreadCount(1)
        let reader = try ExperimentCommand.parse(["--clicks", clicks, "--test-from", "2016-05-25", "--min-item-clicks", "1"])
        let (split, _) = try reader.readSplit(maxSessionLength: ModelConfiguration.srgnn.maxSessionLength)
        let sessions = trainSessions == 0 ? split.training : Array(split.training.suffix(trainSessions))
        let examples = PrefixSet(sessions: sessions)
        print("training one epoch of each preset: \(sessions.count) Diginetica training sessions, \(examples.count) prefixes, "
            + "\(split.itemCount) items, \(threads) threads, seed 1")
        print("wall-clock seconds per epoch and per phase; CPU seconds (all threads) beside them, less affected by other programs")
        print("preset   s/epoch  CPU s  prefixes/s  peak MiB   batching  forward  scoring   loss  scoring bw  backward    adam")
        var seconds: [Double] = []
        var cpu: [Double] = []
        for name in ["srgnn", "danser"] {
            let configuration = ModelConfiguration.preset(named: name)!
            ProcessMemory.resetPeak()
            var trainer = try Trainer(configuration: configuration, itemCount: split.itemCount, seed: 1, threads: threads)
            let start = Date()
            let cpuStart = ProcessTime.cpuSeconds()
            let summary = try trainer.trainEpoch(on: examples)
            let elapsed = Date().timeIntervalSince(start)
            seconds.append(elapsed)
            cpu.append(ProcessTime.cpuSeconds() - cpuStart)
            let t = trainer.timings
            print(name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(
                format: "  %7.1f  %5.0f  %10.0f  %8.0f   %8.1f  %7.1f  %7.1f  %5.1f  %10.1f  %8.1f  %6.1f",
                elapsed, cpu[cpu.count - 1], Double(summary.examples) / elapsed, ProcessMemory.peakMiB(), t.batching,
                t.sessionForward, t.scoring, t.loss, t.scoringBackward, t.sessionBackward, t.optimizer))
            fflush(nil)
        }
        print(String(format: "DANSeR / SR-GNN epoch time: %.2fx wall-clock, %.2fx CPU", seconds[1] / seconds[0], cpu[1] / cpu[0]))
    }
}
