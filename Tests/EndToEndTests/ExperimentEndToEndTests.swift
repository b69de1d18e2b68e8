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

    /// SANS is off in the danser preset: ablating it would run the preset itself under another
    /// name, so it is refused before any data is read (exit 64), naming the lever that turns it on.
    @Test func ablatingAPartAlreadyOffIsRefused() throws {
        let run = try Harness.run(
            ["experiment", "--clicks", "/nonexistent/clicks.csv", "--test-from", "2016-05-25", "--ablate", "no-sans"], database: nil)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--ablate no-sans changes nothing") && run.stderr.contains("--sans"), "\(run.stderr)")
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

    /// A lever run names its levers and prints how far the behaviour scalars moved from 0.
    @Test(.enabled(if: clicks != nil, "needs ../shared/data/diginetica/clicks.csv.gz"))
    func aLeverRunNamesItsLeversAndPrintsTheBehaviourScalars() throws {
        let run = try Harness.run([
            "experiment", "--clicks", Self.clicks!, "--test-from", "2016-05-25", "--min-item-clicks", "1", "--train-sessions", "400",
            "--test-sessions", "100", "--seed", "3", "--threads", "2", "--config", "danser", "--epochs", "1",
            "--cosine-scale", "14", "--dropout", "0.2",
        ], database: nil)
        #expect(run.status == 0, "\(run.stderr.suffix(1500))")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("model: danser +cosine-scale 14.0 +dropout 0.2,") }, "\(run.stdout)")
        #expect(lines.contains { $0.contains("cosine scores (scale 14.0)") && $0.contains("dropout 0.2") }, "\(run.stdout)")
        let scalars = lines.first { $0.contains("behaviour scalars: b0 ") }
        let rho = scalars.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(rho != nil && rho != 0, "\(run.stdout)")
    }

    /// `--refit`: a new model on training + validation prefixes for the epoch count chosen on
    /// validation, tested once, and resumable from `<checkpoint>.refit` to the same figures.
    @Test(.enabled(if: clicks != nil, "needs ../shared/data/diginetica/clicks.csv.gz"))
    func aRefitTrainsOnTheWholeTrainingPeriodForTheChosenEpochs() throws {
        let common = [
            "experiment", "--clicks", Self.clicks!, "--test-from", "2016-05-25", "--min-item-clicks", "1", "--train-sessions", "1500",
            "--test-sessions", "300", "--seed", "3", "--threads", "2", "--config", "srgnn", "--epochs", "2", "--refit",
        ]
        func line(_ run: Harness.Run, _ prefix: String) -> String? {
            run.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
        }
        let whole = try Harness.run(common, database: nil)
        #expect(whole.status == 0, "\(whole.stderr.suffix(1500))")
        let chosenEpochs = line(whole, "chosen on validation: epoch ").flatMap { Int($0.split(separator: " ")[4]) }
        let refitted = line(whole, "refit on training + validation")
        #expect(chosenEpochs != nil && refitted?.contains(", \(chosenEpochs ?? 0) epoch(s)") == true, "\(whole.stdout)")
        // It trains on the fit and validation prefixes together.
        let counts = line(whole, "training prefixes: ").map { $0.split(separator: " ").compactMap { Int($0) } } ?? []
        #expect(counts.count >= 2 && whole.stdout.contains("sessions (\(counts[0] + counts[1]) prefixes)"), "\(whole.stdout)")
        // Interrupted after the choice and its refit checkpoint, then run again: the same figures.
        let checkpoint = Harness.scratchFolder + "/refit-\(UInt32.random(in: 0...UInt32.max)).ckpt"
        let first = try Harness.run(common + ["--checkpoint", checkpoint, "--restart"], database: nil)
        #expect(first.status == 0 && line(first, "refit on training + validation") == refitted, "\(first.stdout)")
        #expect(FileManager.default.fileExists(atPath: checkpoint + ".refit"))
        let again = try Harness.run(common + ["--checkpoint", checkpoint], database: nil)
        #expect(again.stdout.contains("refit resumed from"), "\(again.stdout)")
        #expect(again.status == 0 && line(again, "refit on training + validation") == refitted, "\(again.stdout)")
    }

    /// `--finish-days`: one more pass over the last days' sessions only, read on validation; the
    /// refit ends the same way only when that helped on validation. A run resumed from its
    /// checkpoint finishes from the chosen epoch's saved state, so it prints the same figures.
    @Test(.enabled(if: clicks != nil, "needs ../shared/data/diginetica/clicks.csv.gz"))
    func aFinishingPassTrainsOnTheLastDaysAndTheRefitFollowsValidation() throws {
        let common = [
            "experiment", "--clicks", Self.clicks!, "--test-from", "2016-05-25", "--min-item-clicks", "1", "--train-sessions", "3000",
            "--test-sessions", "300", "--seed", "3", "--threads", "2", "--config", "srgnn", "--epochs", "2", "--refit",
            "--finish-days", "1",
        ]
        func line(_ run: Harness.Run, _ prefix: String) -> String? {
            run.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
        }
        let whole = try Harness.run(common, database: nil)
        #expect(whole.status == 0, "\(whole.stderr.suffix(1500))")
        let finished = line(whole, "finish: one pass over the last 1 day(s) (")
        let fitSessions = line(whole, "training prefixes: ").flatMap { text in
            text.range(of: "(training sessions ").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
        }
        let recentSessions = finished.flatMap { text in
            text.range(of: "day(s) (").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
        }
        #expect(recentSessions != nil && fitSessions != nil && recentSessions! > 0 && recentSessions! < fitSessions!, "\(whole.stdout)")
        let helped = finished?.contains("(better than epoch") == true
        #expect(whole.stdout.contains("refit finish: one pass over the last 1 day(s)") == helped, "\(whole.stdout)")
        #expect(line(whole, "refit on training + validation")?.contains("+ the finishing pass") == helped, "\(whole.stdout)")

        let checkpoint = Harness.scratchFolder + "/finish-\(UInt32.random(in: 0...UInt32.max)).ckpt"
        // The figures after the seconds: the same run, wherever its state came from.
        func figures(_ text: String?) -> String? { text?.components(separatedBy: " s: ").last }
        let first = try Harness.run(common + ["--checkpoint", checkpoint, "--restart"], database: nil)
        #expect(first.status == 0 && figures(line(first, "finish: ")) == figures(finished), "\(first.stdout)")
        let again = try Harness.run(common + ["--checkpoint", checkpoint], database: nil)
        #expect(again.status == 0 && again.stdout.contains("best so far: epoch"), "\(again.stdout)")
        #expect(figures(line(again, "finish: ")) != nil && figures(line(again, "finish: ")) == figures(finished), "\(whole.stdout)\n---\n\(again.stdout)")
    }

    /// Bad finishing-pass settings are refused before any data is read, naming the option.
    @Test(arguments: [("--finish-days", "-1"), ("--finish-learning-rate", "0"), ("--finish-learning-rate", "nan"),
        ("--finish-order", "backwards"), ("--finish-dropout", "1")])
    func badFinishSettingsAreRefused(option: String, value: String) throws {
        let run = try Harness.run(
            ["experiment", "--clicks", "/nonexistent/clicks.csv", "--test-from", "2016-05-25", option, value], database: nil)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains(option), "\(run.stderr)")
    }
}
