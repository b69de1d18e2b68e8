import ArgumentParser
import DANSeR
import Foundation

/// `experiment --config vsknn|stan|sr|slist`: the simple contenders on the same split, filters and
/// metrics as SR-GNN/DANSeR. Each grid (comma-separated values; every combination is tried) is tuned
/// on the training period's own last days (fit on the rest), the best by MRR@20 then P@20 is refitted
/// on the whole training period, and only that is scored on the test split.
struct ContenderOptions: ParsableArguments {
    @Option(help: "Contenders: hold out the training sessions ending in the last N days of the training period to tune the grids.")
    var tuningDays = 7

    @Option(name: .customLong("vsknn-k"), help: "V-SKNN grid: neighbours that vote.")
    var vsknnNeighbours = "50,100,200"
    @Option(help: "V-SKNN grid: most recent candidate sessions compared per prefix.")
    var vsknnSample = "500,1000"
    @Option(help: "V-SKNN grid: IDF weight of the item score (0 is off).")
    var vsknnIdf = "0,1"

    @Option(name: .customLong("stan-k"), help: "STAN grid: neighbours that vote.")
    var stanNeighbours = "100,500"
    @Option(help: "STAN grid: most recent candidate sessions compared per prefix (0 compares all, as plain STAN).")
    var stanSample = "1000"
    @Option(help: "STAN grid: lambda1, position decay of the current session (clicks).")
    var stanLambda1 = "1,4"
    @Option(help: "STAN grid: lambda2, recency decay of neighbour sessions (days).")
    var stanLambda2 = "7,100"
    @Option(help: "STAN grid: lambda3, decay of a neighbour's items away from the shared item (clicks).")
    var stanLambda3 = "1,4"
    @Option(help: "STAN grid: IDF weight of the item score (0 is plain STAN; VSTAN uses it).")
    var stanIdf = "0"

    @Option(help: "SR grid: largest distance in clicks of a rule.")
    var srSteps = "5,10"
    @Option(help: "SR grid: rules kept per item (0 keeps all).")
    var srPruning = "0,20"
    @Option(help: "SR grid: most recent clicks of the prefix whose rules add up (1 is classic SR).")
    var srWindow = "1,3"

    @Option(help: "SLIST grid: alpha, the weight of SLIS against SLIT.")
    var slistAlpha = "0.2,0.8"
    @Option(help: "SLIST grid: lambda, the L2 regularisation.")
    var slistLambda = "10"
    @Option(help: "SLIST grid: position decay of the training rows (clicks).")
    var slistPositionDecay = "1"
    @Option(help: "SLIST grid: position decay of the prefix when scoring (clicks).")
    var slistInferenceDecay = "1"
    @Option(help: "SLIST: memory for its two items x items matrices, GiB; only the most clicked items that fit are kept.")
    var slistMemoryGib = 4.0

    /// The settings to try for `kind`, or a usage error naming the option that is malformed.
    func grid(for kind: ContenderKind) throws -> (settings: [ContenderSetting], options: [(name: String, count: Int)]) {
        switch kind {
        case .vsknn:
            let k = try Self.integers(vsknnNeighbours, "--vsknn-k", minimum: 1)
            let sample = try Self.integers(vsknnSample, "--vsknn-sample", minimum: 0)
            let idf = try Self.numbers(vsknnIdf, "--vsknn-idf", minimum: 0)
            let settings = k.flatMap { k in
                sample.flatMap { sample in
                    idf.map { ContenderSetting.vsknn(.init(neighbours: k, sampleSize: sample, idfWeight: Float($0))) }
                }
            }
            return (settings, [("--vsknn-k", k.count), ("--vsknn-sample", sample.count), ("--vsknn-idf", idf.count)])
        case .stan:
            let k = try Self.integers(stanNeighbours, "--stan-k", minimum: 1)
            let sample = try Self.integers(stanSample, "--stan-sample", minimum: 0)
            let l1 = try Self.numbers(stanLambda1, "--stan-lambda1", minimum: .leastNonzeroMagnitude)
            let l2 = try Self.numbers(stanLambda2, "--stan-lambda2", minimum: .leastNonzeroMagnitude)
            let l3 = try Self.numbers(stanLambda3, "--stan-lambda3", minimum: .leastNonzeroMagnitude)
            let idf = try Self.numbers(stanIdf, "--stan-idf", minimum: 0)
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
            let steps = try Self.integers(srSteps, "--sr-steps", minimum: 1)
            let pruning = try Self.integers(srPruning, "--sr-pruning", minimum: 0)
            let window = try Self.integers(srWindow, "--sr-window", minimum: 1)
            let settings = steps.flatMap { s in
                pruning.flatMap { p in window.map { ContenderSetting.sr(.init(steps: s, pruning: p, window: $0)) } }
            }
            return (settings, [("--sr-steps", steps.count), ("--sr-pruning", pruning.count), ("--sr-window", window.count)])
        case .slist:
            let alpha = try Self.numbers(slistAlpha, "--slist-alpha", minimum: 0)
            guard alpha.allSatisfy({ $0 <= 1 }) else { throw ValidationError("--slist-alpha values must be between 0 and 1 (got '\(slistAlpha)').") }
            let lambda = try Self.numbers(slistLambda, "--slist-lambda", minimum: .leastNonzeroMagnitude)
            let position = try Self.numbers(slistPositionDecay, "--slist-position-decay", minimum: .leastNonzeroMagnitude)
            let inference = try Self.numbers(slistInferenceDecay, "--slist-inference-decay", minimum: .leastNonzeroMagnitude)
            guard slistMemoryGib > 0 else { throw ValidationError("--slist-memory-gib must be positive (got \(slistMemoryGib)).") }
            let budget = Int(slistMemoryGib * Double(1 << 30))
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
                if let note = result.note { print("      (\(note))") }
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
        if let note = final.note { print("      (\(note))") }
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
