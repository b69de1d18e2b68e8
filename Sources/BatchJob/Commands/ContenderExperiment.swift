import ArgumentParser
import DANSeR
import Foundation

/// `experiment --config vsknn|stan|sr|slist`: the simple contenders on the same split, filters and
/// metrics as SR-GNN/DANSeR. Each grid (comma-separated values; every combination is tried) is tuned
/// on the training period's own last days (fit on the rest), the best by MRR@20 then P@20 is refitted
/// on the whole training period, and only that is scored on the test split. `nightly` uses the same
/// grid options with smaller defaults (`Purpose.nightly`), tuned on the candidate's validation window.
struct ContenderOptions: ParsableArguments {
    @Option(help: "experiment: hold out the training sessions ending in the last N days of the training period to tune the grids (nightly tunes on its validation window).")
    var tuningDays = 7

    @Option(name: .customLong("vsknn-k"), help: "V-SKNN grid: neighbours that vote. Default: 50,100,200 (experiment), 50,100 (nightly).")
    var vsknnNeighbours: String?
    @Option(help: "V-SKNN grid: most recent candidate sessions compared per prefix. Default: 500,1000 (experiment), 500 (nightly).")
    var vsknnSample: String?
    @Option(help: "V-SKNN grid: IDF weight of the item score (0 is off). Default: 0,1 (experiment), 1 (nightly).")
    var vsknnIdf: String?

    @Option(name: .customLong("stan-k"), help: "STAN grid: neighbours that vote. Default: 100,500 (experiment), 100 (nightly).")
    var stanNeighbours: String?
    @Option(help: "STAN grid: most recent candidate sessions compared per prefix (0 compares all, as plain STAN). Default: 1000 (experiment), 1000 (nightly).")
    var stanSample: String?
    @Option(help: "STAN grid: lambda1, position decay of the current session (clicks). Default: 1,4 (experiment), 1 (nightly).")
    var stanLambda1: String?
    @Option(help: "STAN grid: lambda2, recency decay of neighbour sessions (days). Default: 7,100 (experiment), 7,100 (nightly).")
    var stanLambda2: String?
    @Option(help: "STAN grid: lambda3, decay of a neighbour's items away from the shared item (clicks). Default: 1,4 (experiment), 4 (nightly).")
    var stanLambda3: String?
    @Option(help: "STAN grid: IDF weight of the item score (0 is plain STAN; VSTAN uses it). Default: 0 (experiment), 0 (nightly).")
    var stanIdf: String?

    @Option(help: "SR grid: largest distance in clicks of a rule. Default: 5,10 (experiment), 10 (nightly).")
    var srSteps: String?
    @Option(help: "SR grid: rules kept per item (0 keeps all). Default: 0,20 (experiment), 0 (nightly).")
    var srPruning: String?
    @Option(help: "SR grid: most recent clicks of the prefix whose rules add up (1 is classic SR). Default: 1,3 (experiment), 1,3 (nightly).")
    var srWindow: String?

    @Option(help: "SLIST grid: alpha, the weight of SLIS against SLIT. Default: 0.2,0.8 (experiment), 0.2 (nightly).")
    var slistAlpha: String?
    @Option(help: "SLIST grid: lambda, the L2 regularisation. Default: 10 (experiment), 10 (nightly).")
    var slistLambda: String?
    @Option(help: "SLIST grid: position decay of the training rows (clicks). Default: 1 (experiment), 1 (nightly).")
    var slistPositionDecay: String?
    @Option(help: "SLIST grid: position decay of the prefix when scoring (clicks). Default: 1 (experiment), 1 (nightly).")
    var slistInferenceDecay: String?
    @Option(help: "SLIST: memory for its two items x items matrices, GiB (experiment: 70% of this machine's memory; nightly 1). A catalogue that needs more is skipped, with the GiB it needs.")
    var slistMemoryGib: Double?

    /// Whose defaults a grid option left out takes: `experiment`'s full grids, or the nightly
    /// gate's smaller ones (every night tunes again, so they must stay cheap).
    enum Purpose { case experiment, nightly }

    /// Each grid option's default for `experiment` and for the nightly gate.
    static let defaults: [String: (experiment: String, nightly: String)] = [
        "--vsknn-k": ("50,100,200", "50,100"), "--vsknn-sample": ("500,1000", "500"), "--vsknn-idf": ("0,1", "1"),
        "--stan-k": ("100,500", "100"), "--stan-sample": ("1000", "1000"), "--stan-lambda1": ("1,4", "1"),
        "--stan-lambda2": ("7,100", "7,100"), "--stan-lambda3": ("1,4", "4"), "--stan-idf": ("0", "0"),
        "--sr-steps": ("5,10", "10"), "--sr-pruning": ("0,20", "0"), "--sr-window": ("1,3", "1,3"),
        "--slist-alpha": ("0.2,0.8", "0.2"), "--slist-lambda": ("10", "10"), "--slist-position-decay": ("1", "1"),
        "--slist-inference-decay": ("1", "1"),
    ]
    /// SLIST's memory budget in GiB: `experiment` may take most of the machine (it runs alone); a
    /// night keeps to 1 GiB (about 11,500 items), since every night fits SLIST again.
    static let slistMemoryDefaults = (
        experiment: 0.7 * Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30), nightly: 1.0
    )

    private static func text(_ given: String?, _ option: String, _ purpose: Purpose) -> String {
        if let given { return given }
        let pair = defaults[option]!
        return purpose == .experiment ? pair.experiment : pair.nightly
    }

    /// The settings to try for `kind`, or a usage error naming the option that is malformed.
    func grid(for kind: ContenderKind, purpose: Purpose = .experiment) throws -> (settings: [ContenderSetting], options: [(name: String, count: Int)]) {
        func integers(_ given: String?, _ option: String, minimum: Int) throws -> [Int] {
            try Self.integers(Self.text(given, option, purpose), option, minimum: minimum)
        }
        func numbers(_ given: String?, _ option: String, minimum: Double) throws -> [Double] {
            try Self.numbers(Self.text(given, option, purpose), option, minimum: minimum)
        }
        switch kind {
        case .vsknn:
            let k = try integers(vsknnNeighbours, "--vsknn-k", minimum: 1)
            let sample = try integers(vsknnSample, "--vsknn-sample", minimum: 0)
            let idf = try numbers(vsknnIdf, "--vsknn-idf", minimum: 0)
            let settings = k.flatMap { k in
                sample.flatMap { sample in
                    idf.map { ContenderSetting.vsknn(.init(neighbours: k, sampleSize: sample, idfWeight: Float($0))) }
                }
            }
            return (settings, [("--vsknn-k", k.count), ("--vsknn-sample", sample.count), ("--vsknn-idf", idf.count)])
        case .stan:
            let k = try integers(stanNeighbours, "--stan-k", minimum: 1)
            let sample = try integers(stanSample, "--stan-sample", minimum: 0)
            let l1 = try numbers(stanLambda1, "--stan-lambda1", minimum: .leastNonzeroMagnitude)
            let l2 = try numbers(stanLambda2, "--stan-lambda2", minimum: .leastNonzeroMagnitude)
            let l3 = try numbers(stanLambda3, "--stan-lambda3", minimum: .leastNonzeroMagnitude)
            let idf = try numbers(stanIdf, "--stan-idf", minimum: 0)
            var settings: [ContenderSetting] = []
            for k in k { for s in sample { for a in l1 { for b in l2 { for c in l3 { for w in idf {
                settings.append(.stan(.init(
                    neighbours: k, sampleSize: s, lambda1: Float(a), lambda2Days: Float(b), lambda3: Float(c), idfWeight: Float(w))))
            } } } } } }
            return (settings, [
                ("--stan-k", k.count), ("--stan-sample", sample.count), ("--stan-lambda1", l1.count),
                ("--stan-lambda2", l2.count), ("--stan-lambda3", l3.count), ("--stan-idf", idf.count),
            ])
        case .sr:
            let steps = try integers(srSteps, "--sr-steps", minimum: 1)
            let pruning = try integers(srPruning, "--sr-pruning", minimum: 0)
            let window = try integers(srWindow, "--sr-window", minimum: 1)
            let settings = steps.flatMap { s in
                pruning.flatMap { p in window.map { ContenderSetting.sr(.init(steps: s, pruning: p, window: $0)) } }
            }
            return (settings, [("--sr-steps", steps.count), ("--sr-pruning", pruning.count), ("--sr-window", window.count)])
        case .slist:
            let alphaText = Self.text(slistAlpha, "--slist-alpha", purpose)
            let alpha = try Self.numbers(alphaText, "--slist-alpha", minimum: 0)
            guard alpha.allSatisfy({ $0 <= 1 }) else { throw ValidationError("--slist-alpha values must be between 0 and 1 (got '\(alphaText)').") }
            let lambda = try numbers(slistLambda, "--slist-lambda", minimum: .leastNonzeroMagnitude)
            let position = try numbers(slistPositionDecay, "--slist-position-decay", minimum: .leastNonzeroMagnitude)
            let inference = try numbers(slistInferenceDecay, "--slist-inference-decay", minimum: .leastNonzeroMagnitude)
            let gib = slistMemoryGib ?? (purpose == .experiment ? Self.slistMemoryDefaults.experiment : Self.slistMemoryDefaults.nightly)
            guard gib > 0, gib.isFinite else { throw ValidationError("--slist-memory-gib must be positive (got \(gib)).") }
            let budget = Int(gib * Double(1 << 30))
            var settings: [ContenderSetting] = []
            for a in alpha { for l in lambda { for p in position { for i in inference {
                settings.append(.slist(.init(
                    alpha: Float(a), lambda: Float(l), positionDecay: Float(p), inferenceDecay: Float(i), memoryBudgetBytes: budget)))
            } } } }
            return (settings, [
                ("--slist-alpha", alpha.count), ("--slist-lambda", lambda.count),
                ("--slist-position-decay", position.count), ("--slist-inference-decay", inference.count),
            ])
        }
    }

    static func integers(_ text: String, _ option: String, minimum: Int) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= minimum }) else {
            throw ValidationError("\(option) must be a comma-separated list of whole numbers of at least \(minimum) (got '\(text)').")
        }
        return values.map { $0! }
    }

    static func numbers(_ text: String, _ option: String, minimum: Double) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite && $0! >= minimum }) else {
            let bound = minimum > 0 ? "positive" : "at least \(minimum)"
            throw ValidationError("\(option) must be a comma-separated list of \(bound) numbers (got '\(text)').")
        }
        return values.map { $0! }
    }
}

extension ExperimentCommand {
    /// Tunes, refits and tests one contender; the same split, filters and metrics as `experiment`.
    func runContender(_ kind: ContenderKind) throws {
        let options = contender
        let (settings, gridOptions) = try options.grid(for: kind)
        guard options.tuningDays >= 1 else { throw ValidationError("--tuning-days must be at least 1 (got \(options.tuningDays)).") }
        do {
            try contenderExperiment(kind, settings: settings, gridOptions: gridOptions)
        } catch let error as DANSeRError {
            printError("\(error)")
            throw ExitCode(error.code == .invalidConfiguration ? ExitStatus.config.rawValue : ExitStatus.dataError.rawValue)
        } catch let error as InputError {
            printError(error.description)
            throw ExitCode(error.code == .corrupt ? ExitStatus.dataError.rawValue : ExitStatus.noInput.rawValue)
        }
    }

    private func contenderExperiment(
        _ kind: ContenderKind, settings: [ContenderSetting], gridOptions: [(name: String, count: Int)]
    ) throws {
        BLAS.setThreadCount(1)
        let started = Date()
        let (split, badRows) = try readSplit(maxSessionLength: maxSessionLength ?? 200)
        let (trainingSessions, endTimes, testingSessions) = (split.training, split.trainingEndTimes, split.test)
        let test = PrefixSet(sessions: testingSessions)
        print("data: \(split.report)")
        if badRows > 0 { print("data: \(badRows) unreadable rows skipped (see messages above)") }
        print("test prefixes: \(test.count)  items: \(split.itemCount)  (training sessions \(trainingSessions.count), "
            + "test sessions \(testingSessions.count)); " + String(format: "read in %.1f s", Date().timeIntervalSince(started)))

        var chosen = settings[0]
        let tuningStart = Date()
        let header = "      P@20    MRR@20  P@10    MRR@10  fit s    scoring prefixes/s  setting"
        if settings.count > 1 {
            let window = ValidationWindow.days(contender.tuningDays)
            let several = gridOptions.filter { $0.count > 1 }.map(\.name).joined(separator: ", ")
            let refusal = "cannot rank the \(settings.count) settings of \(several): "
            let validation: ValidationSplit
            do {
                validation = try ValidationSplit(training: trainingSessions, endTimes: endTimes, window: window)
            } catch {
                throw ValidationError(refusal + "\(error.message). Give \(several) one value each, or change --tuning-days.")
            }
            let examples = ContenderTuning.validationExamples(validation, itemCount: split.itemCount)
            guard examples.count > 0 else {
                throw ValidationError(
                    refusal + "the validation window (\(window)) holds no session of 2+ clicks on items seen before it. "
                        + "Give \(several) one value each, or a larger --tuning-days.")
            }
            print("tuning \(kind.rawValue) on validation: fit sessions \(validation.fit.count), validation sessions "
                + "\(validation.validation.count) (\(examples.count) prefixes, \(window)); \(settings.count) settings")
            print("tune" + header)
            fflush(nil)
            let fitEnds = Array(endTimes.prefix(validation.fit.count))
            var results: [ContenderResult] = []
            for setting in settings {
                let result = try ContenderTuning.measure(
                    setting, training: validation.fit, endTimes: fitEnds, itemCount: split.itemCount, examples: examples,
                    threads: threads)
                print("tune" + Self.row(result, prefixes: examples.count))
                fflush(nil)
                results.append(result)
            }
            chosen = ContenderTuning.best(results)!.setting
            let ties = results.filter { !$0.isBetter(than: ContenderTuning.best(results)!) && !ContenderTuning.best(results)!.isBetter(than: $0) }
            if ties.count == results.count {
                print("note: every setting scored the same on validation; the first listed is kept")
            }
            print(String(format: "chosen on validation (MRR@20, then P@20): %@; tuning took %.1f s",
                chosen.description, Date().timeIntervalSince(tuningStart)))
        }
        print("test" + header)
        let final = try ContenderTuning.measure(
            chosen, training: trainingSessions, endTimes: endTimes, itemCount: split.itemCount, examples: test,
            threads: threads)
        print("test" + Self.row(final, prefixes: test.count))
        print(String(format: "peak memory %.0f MiB; total %.1f s", ProcessMemory.peakMiB(), Date().timeIntervalSince(started)))
    }

    private static func row(_ result: ContenderResult, prefixes: Int) -> String {
        let r = result.result
        return String(
            format: "  %6.2f  %6.2f  %6.2f  %6.2f  %7.1f  %18.0f  %@",
            100 * r.precision(at: 20), 100 * r.reciprocalRank(at: 20), 100 * r.precision(at: 10),
            100 * r.reciprocalRank(at: 10), result.fitSeconds, Double(prefixes) / max(result.scoringSeconds, 1e-9),
            result.setting.description)
    }
}
