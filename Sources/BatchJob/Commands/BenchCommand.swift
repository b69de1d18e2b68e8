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

    @Option(help: "Training sessions (the most recent) for the training benchmark.")
    var trainSessions = 5_000

    func run() throws {
        BLAS.setThreadCount(threads)
        print(MachineDescription.current(threads: threads))
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
        var experiment = try ExperimentCommand.parse([
            "--clicks", clicks, "--test-from", "2016-05-25", "--epochs", "1", "--threads", "\(threads)",
            "--train-sessions", "\(trainSessions)", "--test-sessions", "500",
        ])
        print("training, SR-GNN on the most recent \(trainSessions) Diginetica training sessions, 1 epoch:")
        try experiment.run()
    }
}
