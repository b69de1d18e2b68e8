import ArgumentParser
import DANSeR
import Foundation

/// `danser-batch experiment`: trains and evaluates a configuration on a click file, with the
/// standard split and filters, printing one table row per epoch. No database involved.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Train and evaluate a model configuration on a click log (generic CSV, gzip or not).",
        discussion: """
            Sessions whose last click is at or after --test-from are test sessions. Filters: 1-click \
            sessions, items with fewer than 5 clicks, test clicks on items unseen in training. The most \
            recent training sessions (--validation-fraction, default 0.1, or --validation-days) are held \
            out as validation: the epoch is chosen and training stops early (--patience) on validation \
            P@20 + MRR@20, then MRR@20. Each epoch prints loss, validation P@20 and MRR@20 (percent; * marks a new \
            best), training prefixes/s, seconds, peak memory; the test split is evaluated once, on the \
            chosen model (and after every epoch with --test-curve, for the record only). Then the finishing \
            pass (--finish-days, default 30; 0: off): one more pass over the last days' sessions, read on \
            validation and tested; --refit ends with it too when it was better on validation.
            """
    )

    @Option(help: "Click log: session_id,item_id,timestamp (ISO 8601), optional header; '.gz' or plain.")
    var clicks: String

    @Option(help: "Start of the test window, ISO 8601 (e.g. 2016-05-25 or 2016-05-25T00:00:00Z).")
    var testFrom: String

    @Option(help: ArgumentHelp(
        "Drop items with fewer clicks than this (the standard filter is 5).",
        discussion: "The published benchmark files are already the output of this filter; since the filter is not "
            + "idempotent, pass 1 for them to get the canonical split."))
    var minItemClicks = 5

    @Option(help: "Model configuration preset: danser or srgnn; or a contender tuned on validation: vsknn, stan, sr or slist.")
    var config = "danser"

    @OptionGroup(title: "Contenders (--config vsknn|stan|sr|slist)")
    var contender: ContenderOptions

    @Option(
        name: .customLong("ablate"),
        help: ArgumentHelp(
            "Switch one part of the configuration off (repeatable): \(Self.ablationNames).",
            valueName: "part"))
    var ablations: [String] = []

    static let ablationNames = Ablation.allCases.map(\.rawValue).joined(separator: ", ")

    @OptionGroup(title: "Levers for the validation ablations (off by default)")
    var levers: ModelLeverOptions

    @Option(help: "Most epochs to train (counted from the start, including epochs restored from --checkpoint).")
    var epochs = 10

    @Option(help: "Hold out this share of the training sessions (the most recent) for choosing the epoch (default 0.1).")
    var validationFraction: Double?

    @Option(help: "Hold out the training sessions of the last N days instead (overrides --validation-fraction).")
    var validationDays: Int?

    @Option(help: "Stop after this many epochs in a row without a better validation P@20 + MRR@20.")
    var patience = 2

    @Flag(help: "Also evaluate the test split after every epoch (printed for the record; nothing is chosen by it).")
    var testCurve = false

    @Flag(help: "After the epoch is chosen on validation, train a new model (same seed) on the training and validation sessions together for that many epochs, and report its test figures too.")
    var refit = false

    @OptionGroup(title: "Ending on recent sessions (off by default)")
    var finish: FinishOptions

    @Option(help: "Random seed for initialization and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Threads for matrix products and element-wise work.")
    var threads = 2

    @Option(help: "Batch size (default: the configuration's, 100).")
    var batchSize: Int?

    @Option(help: "Cut longer sessions to their most recent clicks (default: the configuration's, 200).")
    var maxSessionLength: Int?

    @Option(help: "Keep only the most recent N training sessions (a smaller experiment).")
    var trainSessions: Int?

    @Option(help: "Keep only the first N test sessions (a quicker evaluation).")
    var testSessions: Int?

    @Option(help: "Train with the sampled softmax (in-batch and popularity-sampled negatives with the logQ correction) when the catalogue has more items than this; 0: always.")
    var sampledSoftmaxAbove = SampledSoftmax.defaultThreshold

    @Option(help: "Popularity-sampled negatives per batch of the sampled softmax.")
    var sampledNegatives = SampledSoftmax.defaultNegatives

    @Option(help: "Checkpoint file written after every epoch; if it exists, training resumes from it.")
    var checkpoint: String?

    @Flag(help: "Ignore an existing --checkpoint file and start from scratch (it is overwritten).")
    var restart = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard epochs >= 1, epochs <= 1000 else { throw ValidationError("--epochs must be between 1 and 1000 (got \(epochs)).") }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256 (got \(threads)).") }
        guard minItemClicks >= 1 else { throw ValidationError("--min-item-clicks must be at least 1 (got \(minItemClicks)).") }
        guard ModelConfiguration.preset(named: config) != nil || ContenderKind(rawValue: config) != nil else {
            throw ValidationError("--config must be danser, srgnn, vsknn, stan, sr or slist (got '\(config)').")
        }
        guard GenerateCommand.parseDay(testFrom) != nil else {
            throw ValidationError("--test-from must be an ISO 8601 date or time, e.g. 2016-05-25 (got '\(testFrom)').")
        }
        for name in ablations where Ablation(rawValue: name) == nil {
            throw ValidationError("--ablate must be one of \(Self.ablationNames) (got '\(name)').")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1.") }
        if let trainSessions, trainSessions < 1 { throw ValidationError("--train-sessions must be at least 1.") }
        if let testSessions, testSessions < 1 { throw ValidationError("--test-sessions must be at least 1.") }
        if let validationFraction, !(validationFraction > 0 && validationFraction < 1) {
            throw ValidationError("--validation-fraction must be between 0 and 1, e.g. 0.1 (got \(validationFraction)).")
        }
        if let validationDays, validationDays < 1 { throw ValidationError("--validation-days must be at least 1 (got \(validationDays)).") }
        guard patience >= 1 else { throw ValidationError("--patience must be at least 1 (got \(patience)).") }
        try TrainingOptions.validateSampling(above: sampledSoftmaxAbove, negatives: sampledNegatives)
    }

    func run() throws {
        output.bootstrap()
        if let kind = ContenderKind(rawValue: config) { return try runContender(kind) }
        // The levers turn parts on, then the ablations switch parts off: `--sans --ablate
        // uniform-negatives` is the uniform row. An ablation of a part already off is refused.
        var configuration = levers.applied(to: ModelConfiguration.preset(named: config)!)
        for name in ablations {
            let ablated = Ablation(rawValue: name)!.applied(to: configuration)
            guard ablated != configuration else {
                printError("--ablate \(name) changes nothing: that part is already off in --config \(config)"
                    + (levers.names.isEmpty ? "" : " with \(levers.names.map { "+" + $0 }.joined(separator: " "))")
                    + ". Drop it, or turn the part on first (SANS: --sans).")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            configuration = ablated
        }
        if let batchSize { configuration.batchSize = batchSize }
        if let maxSessionLength { configuration.maxSessionLength = maxSessionLength }
        do {
            try configuration.validate()
            try experiment(configuration)
        } catch let error as DANSeRError {
            printError("\(error)")
            switch error.code {
            case .invalidConfiguration, .notImplemented: throw ExitCode(ExitStatus.config.rawValue)
            case .cancelled: throw ExitCode(ExitStatus.interrupted.rawValue)
            default: throw ExitCode(ExitStatus.dataError.rawValue)
            }
        } catch let error as InputError {
            printError(error.description)
            throw ExitCode(error.code == .corrupt ? ExitStatus.dataError.rawValue : ExitStatus.noInput.rawValue)
        }
    }

    /// The held-out part of the training period that every choice is made on.
    var validationWindow: ValidationWindow {
        if let validationDays { return .days(validationDays) }
        return .fraction(validationFraction ?? 0.1)
    }

    private func experiment(_ configuration: ModelConfiguration) throws {
        // The trainer and evaluator split the large products themselves: BLAS runs single-threaded.
        BLAS.setThreadCount(1)
        let started = Date()
        let (split, badRows) = try readSplit(maxSessionLength: configuration.maxSessionLength)
        let (trainingSessions, endTimes, testingSessions) = (split.training, split.trainingEndTimes, split.test)
        let held = try ValidationSplit(training: trainingSessions, endTimes: endTimes, window: validationWindow)
        let training = PrefixSet(sessions: held.fit)
        let validation = PrefixSet(sessions: held.validation)
        let test = PrefixSet(sessions: testingSessions)
        print("data: \(split.report)")
        if badRows > 0 { print("data: \(badRows) unreadable rows skipped (see messages above)") }
        if split.report.truncatedSessions > 0 {
            print("data: \(split.report.truncatedSessions) sessions longer than \(configuration.maxSessionLength) clicks "
                + "were cut to their most recent clicks")
        }
        print("training prefixes: \(training.count)  validation prefixes: \(validation.count)  test prefixes: \(test.count)  "
            + "items: \(split.itemCount)  (training sessions \(held.fit.count), validation sessions \(held.validation.count): "
            + "\(validationWindow), test sessions \(testingSessions.count)); "
            + String(format: "read in %.1f s", Date().timeIntervalSince(started)))

        var trainer = try makeTrainer(configuration, itemCount: split.itemCount)
        trainer.sampling = SampledSoftmax.forCatalogue(
            itemCount: split.itemCount, threshold: sampledSoftmaxAbove, negatives: sampledNegatives)
        print("model: \(([config] + ablations).joined(separator: " -") + levers.names.map { " +" + $0 }.joined()), d \(configuration.hiddenSize), \(trainer.model.layout.totalCount) weights, "
            + "batch \(configuration.batchSize), seed \(trainer.seed), threads \(threads)")
        print("configuration: \(configuration.summary)")
        print(trainer.sampling.map {
            "training: sampled softmax (\(split.itemCount) items > --sampled-softmax-above \(sampledSoftmaxAbove)): the batch's targets "
                + "and \($0.negatives) popularity-sampled items per batch, logQ-corrected"
        } ?? "training: full softmax over all \(split.itemCount) items (--sampled-softmax-above \(sampledSoftmaxAbove))")
        print("the epoch is chosen, and training stops after \(patience) epoch(s) without progress, on validation P@20 + MRR@20 (then MRR@20)"
            + (testCurve ? "; the test columns are for the record only, nothing is chosen by them" : ""))
        fflush(nil)
        print("epoch   lr        loss     val P@20  val MRR@20" + (testCurve ? "  | test P@20  MRR@20 (not used)" : "")
            + "  prefixes/s  train s  eval s  peak MiB")
        fflush(nil)
        let interactive = isatty(STDERR_FILENO) != 0
        var (selection, bestTrainer) = try resumedSelection(
            of: trainer, configuration: configuration, itemCount: split.itemCount, validation: validation)
        while trainer.completedEpochs < epochs, !selection.shouldStop {
            let epochStart = Date()
            let summary = try trainer.trainEpoch(on: training) { progress in
                if interactive, progress.batch % 50 == 0 || progress.batch == progress.batchCount {
                    FileHandle.standardError.write(Data(String(
                        format: "\repoch %d batch %d/%d loss %.4f", progress.epoch + 1, progress.batch,
                        progress.batchCount, progress.meanLoss).utf8))
                }
                return true
            }
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let trainSeconds = Date().timeIntervalSince(epochStart)
            let evalStart = Date()
            let checked = Evaluator.evaluate(trainer.model, on: validation, batchSize: configuration.batchSize, threads: threads)
            let best = selection.record(epoch: summary.epoch + 1, validation: checked, model: trainer.model)
            if best { bestTrainer = trainer }
            // Saved once validated, the best beside it, so a resumed run chooses as an uninterrupted one would.
            if let checkpoint {
                let snapshot = Checkpoint(trainer).encoded()
                if best { try save(snapshot, to: checkpoint + ".best") }
                try save(snapshot, to: checkpoint)
            }
            var testColumns = ""
            if testCurve {
                let result = Evaluator.evaluate(trainer.model, on: test, batchSize: configuration.batchSize, threads: threads)
                testColumns = String(format: "  |    %6.2f  %6.2f          ", 100 * result.precision(at: 20), 100 * result.reciprocalRank(at: 20))
            }
            let evalSeconds = Date().timeIntervalSince(evalStart)
            print(String(
                format: "%5d   %.1e  %7.4f  %6.2f    %6.2f", summary.epoch + 1, summary.learningRate, summary.meanLoss,
                100 * checked.precision(at: 20), 100 * checked.reciprocalRank(at: 20))
                + (best ? " *" : "  ") + testColumns
                + String(
                    format: "   %10.0f  %7.1f  %6.1f  %8.0f", Double(summary.examples) / trainSeconds, trainSeconds,
                    evalSeconds, ProcessMemory.peakMiB()))
            let t = trainer.timings
            print(String(
                format: "        phases (s, cumulative): batching %.1f  forward %.1f  scoring %.1f  loss %.1f  "
                    + "scoring backward %.1f  backward %.1f  adam %.1f;  items scored per prefix %.0f",
                t.batching, t.sessionForward, t.scoring, t.loss, t.scoringBackward, t.sessionBackward, t.optimizer,
                Double(t.scoredColumns) / Double(max(1, t.scoredRows))))
            let scalars = trainer.model.behaviourScalars
            if !scalars.isEmpty {
                // How far the popularity and repeat terms have moved from their start at 0.
                print(String(
                    format: "        behaviour scalars: b0 %.3f  b1 %.3f  rho %.3f",
                    scalars["b0"] ?? 0, scalars["b1"] ?? 0, scalars["rho"] ?? 0))
            }
            fflush(nil)
        }
        guard let chosen = selection.bestModel, let epoch = selection.bestEpoch, let checked = selection.bestResult else { return }
        if selection.shouldStop {
            print("stopped early: \(patience) epoch(s) without a better validation P@20 + MRR@20")
        }
        let result = Evaluator.evaluate(chosen, on: test, batchSize: configuration.batchSize, threads: threads)
        print(String(
            format: "chosen on validation: epoch %d (val P@20 %.2f, MRR@20 %.2f); test of that model: "
                + "P@20 %.2f  MRR@20 %.2f  P@10 %.2f  MRR@10 %.2f  NDCG@20 %.2f",
            epoch, 100 * checked.precision(at: 20), 100 * checked.reciprocalRank(at: 20),
            100 * result.precision(at: 20), 100 * result.reciprocalRank(at: 20),
            100 * result.precision(at: 10), 100 * result.reciprocalRank(at: 10), 100 * result.ndcg(at: 20)))
        fflush(nil)
        // The finishing pass starts from the chosen epoch's weights and optimizer state.
        var finishHelps = false
        if let pass = finish.pass, var finishing = bestTrainer {
            let finished = try pass.run(&finishing, sessions: held.fit, endTimes: Array(endTimes.prefix(held.fit.count)))
            let read = Evaluator.evaluate(finishing.model, on: validation, batchSize: configuration.batchSize, threads: threads)
            finishHelps = EpochSelection.isBetter(read, than: checked)
            let tested = Evaluator.evaluate(finishing.model, on: test, batchSize: configuration.batchSize, threads: threads)
            print("finish: \(pass.describe(finished)) in " + String(
                format: "%.1f s: val P@20 %.2f  MRR@20 %.2f (", finished.seconds,
                100 * read.precision(at: 20), 100 * read.reciprocalRank(at: 20))
                + (finishHelps ? "better" : "not better") + String(
                format: " than epoch %d); test of that model: P@20 %.2f  MRR@20 %.2f  P@10 %.2f  MRR@10 %.2f  NDCG@20 %.2f",
                epoch, 100 * tested.precision(at: 20), 100 * tested.reciprocalRank(at: 20),
                100 * tested.precision(at: 10), 100 * tested.reciprocalRank(at: 10), 100 * tested.ndcg(at: 20)))
            fflush(nil)
        } else if finish.pass != nil {
            print("finish: skipped, the chosen epoch's optimizer state is not at hand (resume with its <checkpoint>.best)")
        }
        if refit {
            try refitAndTest(
                configuration, itemCount: split.itemCount, epochs: epoch, on: trainingSessions, endTimes: endTimes,
                finishing: finishHelps, test: test)
        }
    }

    /// Reads and splits the click file, cut to --train-sessions and --test-sessions; bad rows are
    /// reported and counted, never silently dropped.
    func readSplit(maxSessionLength: Int) throws -> (SessionSplit<String>, Int) {
        let reader = try LineReader(path: clicks)
        var records: [Click<String, String>] = []
        var badRows = 0
        try reader.forEachLine { number, bytes, truncated in
            if number == 1 && GenericClickCSV.isHeader(bytes) { return }
            if bytes.isEmpty { return }
            switch GenericClickCSV.parse(bytes) {
            case .success(let record) where !truncated:
                records.append(Click(session: record.sessionID, item: record.itemID, time: record.timeMicros))
            case .success:
                badRows += 1
                if badRows <= 10 { printError("\(clicks) line \(number): line too long; skipped") }
            case .failure(let problem):
                badRows += 1
                if badRows <= 10 { printError("\(clicks) line \(number): \(problem.reason); skipped") }
            }
        }
        var split = try SessionSplit(
            clicks: records, testFrom: GenerateCommand.parseDay(testFrom)!, minItemClicks: minItemClicks,
            maxSessionLength: maxSessionLength)
        // --train-sessions keeps the most recent training sessions, --test-sessions the first test sessions.
        if let trainSessions, trainSessions < split.training.count {
            split.training = Array(split.training.suffix(trainSessions))
            split.trainingEndTimes = Array(split.trainingEndTimes.suffix(trainSessions))
        }
        if let testSessions, testSessions < split.test.count { split.test = Array(split.test.prefix(testSessions)) }
        return (split, badRows)
    }

    private func makeTrainer(_ configuration: ModelConfiguration, itemCount: Int) throws -> Trainer {
        if let checkpoint, !restart, FileManager.default.fileExists(atPath: checkpoint) {
            guard let data = FileManager.default.contents(atPath: checkpoint) else {
                throw InputError(code: .unreadable, path: checkpoint, detail: "cannot read the checkpoint")
            }
            let trainer: Trainer
            do {
                trainer = try Checkpoint(decoding: data).makeTrainer(
                    expecting: configuration, itemCount: itemCount, threads: threads)
            } catch {
                throw DANSeRError(error.code, "\(checkpoint): \(error.message) (or pass --restart to overwrite it)")
            }
            print("resumed from \(checkpoint) after epoch \(trainer.completedEpochs) (seed \(trainer.seed))")
            return trainer
        }
        return try Trainer(configuration: configuration, itemCount: itemCount, seed: seed, threads: threads)
    }

    /// The epoch selection of a run resumed from --checkpoint: the best epoch so far comes from
    /// `<checkpoint>.best`, validated again. A checkpoint without one (written before it was kept)
    /// has only its last epoch to offer.
    private func resumedSelection(
        of trainer: Trainer, configuration: ModelConfiguration, itemCount: Int, validation: PrefixSet
    ) throws -> (EpochSelection, Trainer?) {
        var selection = EpochSelection(patience: patience)
        guard let checkpoint, trainer.completedEpochs > 0 else { return (selection, nil) }
        var best = trainer
        if let data = FileManager.default.contents(atPath: checkpoint + ".best") {
            do {
                best = try Checkpoint(decoding: data).makeTrainer(expecting: configuration, itemCount: itemCount, threads: threads)
            } catch {
                throw DANSeRError(error.code, "\(checkpoint).best: \(error.message) (or pass --restart to start over)")
            }
        } else {
            print("no \(checkpoint).best: the epochs before \(trainer.completedEpochs) are not candidates for the choice")
        }
        let checked = Evaluator.evaluate(best.model, on: validation, batchSize: configuration.batchSize, threads: threads)
        selection.resume(bestEpoch: best.completedEpochs, validation: checked, model: best.model, completedEpochs: trainer.completedEpochs)
        print(String(
            format: "best so far: epoch %d (val P@20 %.2f, MRR@20 %.2f); %d epoch(s) since", best.completedEpochs,
            100 * checked.precision(at: 20), 100 * checked.reciprocalRank(at: 20), selection.epochsSinceBest))
        return (selection, best)
    }

    /// Writes next to the target, then renames, so a crash never leaves half a checkpoint.
    func save(_ snapshot: Data, to path: String) throws {
        let temporary = path + ".partial"
        do {
            try snapshot.write(to: URL(fileURLWithPath: temporary))
        } catch {
            printError("cannot write the checkpoint \(temporary): \(error.localizedDescription). Check the folder exists and is writable.")
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
        guard rename(temporary, path) == 0 else {
            printError("cannot replace the checkpoint \(path): \(String(cString: strerror(errno))). Check the folder is writable.")
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
    }
}
