import DANSeR
import FeatureStore
import Foundation

/// What scores the night when the registry's model does not: a simple contender or a blend that
/// won the contest, with what the ledger and `bi.served_days` record about it.
struct ServedContender {
    /// `vsknn`, `stan`, `sr`, `slist` or `blend`.
    var kind: String
    /// The row's name in the comparison, e.g. "V-SKNN".
    var name: String
    /// Catalogue size of its dense ids (the night's vocabulary).
    var itemCount: Int
    /// Top-K of sessions (dense ids), `k`, exclude seen, threads.
    var topK: ([Session], Int, Bool, Int) -> [[Recommendation]]
}

/// Stage: the contest. The model the gate chose to serve (the candidate if it passed, else the
/// champion), every simple contender tuned on the candidate's validation window and refitted on
/// all training sessions, and the blend of the candidate with the best of them, all on the same
/// held-out evaluation days. The best by MRR@20, then P@20, serves the night; the registry's
/// model wins ties. A contender that cannot be fitted, or whose grid no validation data can rank,
/// is skipped with the reason; the contest never fails the night.
struct ContestStage: Stage {
    static let name = StageName.contest

    struct Entrant {
        var name: String
        var kind: String
        var setting: String
        var heldOut: EvaluationResult?
        var validationMRR: Double?
        var fitSeconds: Double?
        var tuningSeconds: Double?
        var skipped: String?
        var comparison: RunReport.Comparison? { heldOut.map { RunReport.Comparison(name: name, $0) } }
    }

    struct Output: StageResult {
        var entrants: [Entrant]
        /// Nil when the registry's model won.
        var served: ServedContender?
        /// What the day's audit record, the ledger and `bi.served_days` say served.
        var record: [String: Any]
        var seconds: Double
        var ledgerRecord: [String: Any] {
            var object = record
            object["seconds"] = seconds
            object["contenders"] = entrants.map { entrant -> [String: Any] in
                var row: [String: Any] = ["name": entrant.name, "kind": entrant.kind, "setting": entrant.setting]
                if let result = entrant.heldOut {
                    row["p@20"] = result.precision(at: 20) * 100
                    row["mrr@20"] = result.reciprocalRank(at: 20) * 100
                    row["p@10"] = result.precision(at: 10) * 100
                    row["mrr@10"] = result.reciprocalRank(at: 10) * 100
                }
                if let value = entrant.validationMRR { row["validation_mrr@20"] = value }
                if let value = entrant.fitSeconds { row["fit_seconds"] = value }
                if let value = entrant.tuningSeconds { row["tuning_seconds"] = value }
                if let value = entrant.skipped { row["skipped"] = value }
                return row
            }
            return object
        }
    }

    struct Input {
        var data: PreparedData
        var scoring: ScoringModel
        /// The night's session-kNN warning, if the evaluation raised one.
        var knnWarning: String?
        /// The registry's model on the held-out days, when the evaluate stage measured it already.
        var heldOut: EvaluationResult?
    }

    /// The documented rule: MRR@20 first, then P@20; nil loses.
    static func isBetter(_ a: EvaluationResult?, than b: EvaluationResult?) -> Bool {
        guard let a else { return false }
        guard let b else { return true }
        let (x, y) = (a.reciprocalRank(at: 20), b.reciprocalRank(at: 20))
        return x != y ? x > y : a.precision(at: 20) > b.precision(at: 20)
    }

    func callAsFunction(_ input: Input, in context: RunContext) throws -> Output {
        let started = Date()
        let settings = context.settings
        let contest = settings.contest
        let data = input.data
        let scoring = input.scoring
        let itemCount = data.split.itemCount
        let heldOut = PrefixSet(sessions: data.split.test)
        let logger = context.logger
        // The registry's model, on the held-out days as the evaluate stage measured it.
        // (A champion older than the night's catalogue is grown as the evaluate stage grows it.)
        var neuralResult = input.heldOut
        if neuralResult == nil {
            let model = scoring.model.itemCount < itemCount ? try scoring.model.growing(toItemCount: itemCount, seed: settings.seed) : scoring.model
            neuralResult = Evaluator.evaluate(model, on: heldOut, threads: settings.threads)
        }
        let neuralName = scoring.isDateModel ? "candidate" : "champion"
        let neuralKind = "neural"
        var entrants = [Entrant(
            name: neuralName, kind: neuralKind, setting: "model \(scoring.version)",
            heldOut: neuralResult)]

        // The candidate's own validation window (never the held-out days), as a cut in time of all training sessions.
        let windowText = "\(settings.validationWindow)"
        let validation: Result<ValidationSplit, DANSeRError> = Result { () throws(DANSeRError) in
            let own = try ValidationSplit(training: data.training, endTimes: data.trainingEndTimes, window: settings.validationWindow)
            let cutTime = data.trainingEndTimes[own.fit.count]
            let cut = data.split.trainingEndTimes.firstIndex { $0 >= cutTime } ?? data.split.training.count
            return try ValidationSplit(training: data.split.training, cut: cut, describing: windowText)
        }
        let entries = ContenderContest.run(
            grids: contest.grids.map(\.settings), training: data.split.training, endTimes: data.split.trainingEndTimes,
            itemCount: itemCount, heldOut: heldOut, validation: validation, describing: windowText, threads: settings.threads
        ) { result in
            logger.info("contender tuned", metadata: [
                "setting": "\(result.setting)", "validation_p20": "\(String(format: "%.2f", result.result.precision(at: 20) * 100))",
                "validation_mrr20": "\(String(format: "%.2f", result.result.reciprocalRank(at: 20) * 100))",
            ])
        }
        var fitted: [(entrant: Int, entry: ContenderContest.Entry)] = []
        for (grid, entry) in zip(contest.grids, entries) {
            var skipped = entry.skipped
            if let reason = skipped, grid.settings.count > 1, entry.tuning.isEmpty, entry.skippedCode == .datasetTooSmall {
                // A grid no validation data can rank is refused; the night goes on without it.
                skipped = "cannot rank the \(grid.settings.count) settings of \(grid.tunedOptions.joined(separator: ", ")): \(reason); "
                    + "give \(grid.tunedOptions.count == 1 ? "it" : "each") one value, or a larger validation window (--validation-fraction, --validation-days)"
            }
            let chosen = entry.heldOut?.setting ?? grid.settings[0]
            entrants.append(Entrant(
                name: Self.displayName(grid.kind), kind: grid.kind.rawValue, setting: Self.settingText(chosen),
                heldOut: entry.heldOut?.result, validationMRR: entry.validation.map { $0.result.reciprocalRank(at: 20) * 100 },
                fitSeconds: entry.heldOut?.fitSeconds, tuningSeconds: entry.tuningSeconds, skipped: skipped))
            if let skipped {
                logger.warning("contender skipped", metadata: ["contender": "\(grid.kind.rawValue)", "reason": "\(skipped)"])
                context.summary.notes.append("Contender \(Self.displayName(grid.kind)) skipped: \(skipped).")
            } else {
                fitted.append((entrants.count - 1, entry))
            }
        }

        var blend: Blend?
        if contest.blend {
            var entrant = Entrant(name: "blend", kind: "blend", setting: "-")
            switch Self.blend(scoring: scoring, fitted: fitted, entrants: entrants, validation: validation, data: data, settings: settings) {
            case .success(let (chosen, text)):
                blend = chosen
                entrant.setting = text
                entrant.heldOut = chosen.evaluate(on: heldOut, threads: settings.threads)
            case .failure(let reason):
                entrant.skipped = reason.message
                logger.info("blend not kept", metadata: ["reason": "\(reason.message)"])
                context.summary.notes.append("Blend not kept: \(reason.message).")
            }
            entrants.append(entrant)
        }

        // The winner: the registry's model is listed first and keeps a tie.
        var winner = 0
        for index in entrants.indices.dropFirst() where Self.isBetter(entrants[index].heldOut, than: entrants[winner].heldOut) { winner = index }
        let ranked = entrants.indices.filter { entrants[$0].heldOut != nil && $0 != winner }
        let runnerUp = ranked.max { Self.isBetter(entrants[$1].heldOut, than: entrants[$0].heldOut) ? true : false }
        let best = entrants[winner]
        var record: [String: Any] = [
            "kind": best.kind, "name": best.name, "setting": best.setting, "model_version": Int(scoring.version),
            "rule": "MRR@20, then P@20, on the held-out evaluation days; the registry's model keeps a tie",
        ]
        if let result = best.heldOut {
            record["p_at_20"] = result.precision(at: 20) * 100
            record["mrr_at_20"] = result.reciprocalRank(at: 20) * 100
        }
        if let runnerUp, let other = entrants[runnerUp].heldOut, let mine = best.heldOut {
            record["runner_up"] = entrants[runnerUp].name
            record["margin_p_at_20"] = (mine.precision(at: 20) - other.precision(at: 20)) * 100
            record["margin_mrr_at_20"] = (mine.reciprocalRank(at: 20) - other.reciprocalRank(at: 20)) * 100
        }
        if let neural = entrants[0].heldOut {
            record["neural_p_at_20"] = neural.precision(at: 20) * 100
            record["neural_mrr_at_20"] = neural.reciprocalRank(at: 20) * 100
        }
        if let warning = input.knnWarning { record["knn_warning"] = warning }

        var served: ServedContender?
        if winner != 0 {
            if best.kind == "blend", let blend {
                served = ServedContender(kind: "blend", name: best.name, itemCount: itemCount) { blend.topK($0, k: $1, excludeSeen: $2, threads: $3) }
            } else if let model = fitted.first(where: { $0.entrant == winner })?.entry.model {
                served = ServedContender(kind: best.kind, name: best.name, itemCount: itemCount) { model.topK($0, k: $1, excludeSeen: $2, threads: $3) }
            }
        }
        let margin = (record["margin_mrr_at_20"] as? Double).map { String(format: " by %.2f MRR@20 points over %@", $0, record["runner_up"] as? String ?? "-") } ?? ""
        let line = winner == 0
            ? "Served by the \(neuralName) (model \(scoring.version)): it won the contest\(margin)."
            : "Served by \(best.name) (\(best.setting)): it won the contest\(margin); the \(neuralName) (model \(scoring.version)) keeps its place in the registry."
        context.summary.notes.append(line)
        context.summary.served = line
        // (A night that reused its model evaluated nothing before: the registry's model's row comes from here.)
        context.summary.comparison.append(contentsOf: (context.summary.comparison.isEmpty ? entrants[...] : entrants.dropFirst()).compactMap(\.comparison))
        if winner != 0 { context.summary.servedBy = best.name }
        logger.info("contest decided", metadata: [
            "served": "\(best.name)", "setting": "\(best.setting)",
            "margin_mrr20": "\(String(format: "%.2f", record["margin_mrr_at_20"] as? Double ?? 0))",
        ])
        return Output(entrants: entrants, served: served, record: record, seconds: Date().timeIntervalSince(started))
    }

    /// The blend of the candidate with the simple contender best on validation, its weight chosen
    /// on validation; kept only if it beats both of them there. Failure says why not.
    private static func blend(
        scoring: ScoringModel, fitted: [(entrant: Int, entry: ContenderContest.Entry)], entrants: [Entrant],
        validation: Result<ValidationSplit, DANSeRError>, data: PreparedData, settings: NightlySettings
    ) -> Result<(Blend, String), DANSeRError> {
        func no(_ why: String) -> Result<(Blend, String), DANSeRError> { .failure(DANSeRError(.datasetTooSmall, why)) }
        guard scoring.isDateModel else { return no("the candidate did not pass the gate, and only a model that never saw the validation days can be blended") }
        guard scoring.model.itemCount == data.split.itemCount else { return no("the candidate's catalogue differs from the night's") }
        guard !fitted.isEmpty else { return no("no simple contender was fitted") }
        let split: ValidationSplit
        switch validation {
        case .success(let value): split = value
        case .failure(let error): return no("no validation window to choose its weight on (\(error.message))")
        }
        let itemCount = data.split.itemCount
        let examples = ContenderTuning.validationExamples(split, itemCount: itemCount)
        guard examples.count > 0 else { return no("the validation window holds no example to choose its weight on") }
        let fitEnds = Array(data.split.trainingEndTimes.prefix(split.fit.count))
        // The partner: the best simple contender on validation (fitted on the validation split's fit part).
        // A tuned contender's validation result is reused; an untuned one is fitted and measured once.
        var partner: (entry: ContenderContest.Entry, result: ContenderResult, model: FittedContender?)?
        for (_, entry) in fitted {
            guard let setting = entry.heldOut?.setting else { continue }
            var candidate: (entry: ContenderContest.Entry, result: ContenderResult, model: FittedContender?)
            if let tuned = entry.validation {
                candidate = (entry, tuned, nil)
            } else if let measured = try? ContenderTuning.fitAndMeasure(
                setting, training: split.fit, endTimes: fitEnds, itemCount: itemCount, examples: examples, threads: settings.threads) {
                candidate = (entry, measured.result, measured.model)
            } else {
                continue
            }
            if partner == nil || candidate.result.isBetter(than: partner!.result) { partner = candidate }
        }
        if let chosen = partner, chosen.model == nil {
            partner?.model = try? chosen.result.setting.fit(training: split.fit, endTimes: fitEnds, itemCount: itemCount, threads: settings.threads)
        }
        guard let partner, let onFit = partner.model, let served = partner.entry.model else {
            return no("no simple contender could be fitted on the validation split")
        }
        let weights: [Float] = [0.1, 0.3, 0.5, 0.7, 0.9]
        let results = Blend.evaluate(scoring.model, onFit, on: examples, weights: weights, threads: settings.threads)
        let alone = Evaluator.evaluate(scoring.model, on: examples, threads: settings.threads)
        var bestIndex = 0
        for index in results.indices.dropFirst() where isBetter(results[index], than: results[bestIndex]) { bestIndex = index }
        let name = displayName(partner.entry.kind)
        let text = String(format: "candidate + %@, weight %.1f on %@", name, weights[bestIndex], partner.result.setting.description)
        guard isBetter(results[bestIndex], than: alone), isBetter(results[bestIndex], than: partner.result.result) else {
            return no(String(
                format: "the best blend (%@) did not beat both the candidate (MRR@20 %.2f) and %@ (%.2f) on validation (%.2f)",
                text, alone.reciprocalRank(at: 20) * 100, name, partner.result.result.reciprocalRank(at: 20) * 100,
                results[bestIndex].reciprocalRank(at: 20) * 100))
        }
        return .success((Blend(model: scoring.model, contender: served, weight: weights[bestIndex]), text))
    }

    static func displayName(_ kind: ContenderKind) -> String {
        switch kind {
        case .vsknn: "V-SKNN"
        case .stan: "STAN"
        case .sr: "SR"
        case .slist: "SLIST"
        }
    }

    static func settingText(_ setting: ContenderSetting) -> String {
        let text = setting.description
        return text.hasPrefix(setting.kind.rawValue + " ") ? String(text.dropFirst(setting.kind.rawValue.count + 1)) : text
    }
}
