import Foundation
import Testing

/// `experiment --checkpoint`: a run stopped after some epochs and started again chooses its
/// epoch, and reports the test figures of that choice, exactly as the uninterrupted run does.
/// Needs ../shared/data/diginetica/clicks.csv.gz (skipped without it).
@Suite struct ExperimentEndToEndTests {
    static var clicks: String? {
        guard let samples = Harness.samplesFolder else { return nil }
        let file = (samples as NSString).deletingLastPathComponent + "/diginetica/clicks.csv.gz"
        return FileManager.default.fileExists(atPath: file) ? file : nil
    }

    @Test(.enabled(if: clicks != nil, "needs ../shared/data/diginetica/clicks.csv.gz"))
    func aResumedRunChoosesAsAnUninterruptedOne() throws {
        let common = [
            "experiment", "--clicks", Self.clicks!, "--test-from", "2016-05-25", "--min-item-clicks", "1", "--train-sessions", "2000",
            "--test-sessions", "300", "--seed", "3", "--threads", "2", "--patience", "5", "--config", "srgnn",
        ]
        func chosen(_ run: Harness.Run) -> String? {
            run.stdout.split(separator: "\n").first { $0.hasPrefix("chosen on validation:") }.map(String.init)
        }
        let checkpoint = Harness.scratchFolder + "/experiment-\(UInt32.random(in: 0...UInt32.max)).ckpt"
        for epochs in [2, 3] {
            let whole = try Harness.run(common + ["--epochs", "\(epochs)"], database: nil)
            #expect(whole.status == 0, "\(whole.stderr.suffix(1500))")
            // Stopped after the first epoch, then resumed to the end: nothing left to train when
            // the first run already did every epoch but the choice.
            let first = try Harness.run(common + ["--epochs", "\(epochs - 1)", "--checkpoint", checkpoint, "--restart"], database: nil)
            #expect(first.status == 0, "\(first.stderr.suffix(1500))")
            let resumed = try Harness.run(common + ["--epochs", "\(epochs)", "--checkpoint", checkpoint], database: nil)
            #expect(resumed.status == 0, "\(resumed.stderr.suffix(1500))")
            #expect(resumed.stdout.contains("best so far: epoch"), "\(resumed.stdout)")
            #expect(chosen(whole) != nil && chosen(resumed) == chosen(whole), "\(whole.stdout)\n---\n\(resumed.stdout)")
            let done = try Harness.run(common + ["--epochs", "\(epochs)", "--checkpoint", checkpoint], database: nil)
            #expect(done.status == 0 && chosen(done) == chosen(whole), "\(done.stdout)")
        }
    }
}
