import ArgumentParser
import DANSeR

/// What the nightly contest runs: each simple contender's grid (tuned on the candidate's
/// validation window), whether the blend competes, and the session-kNN warning margin.
struct ContestSettings: Sendable {
    /// One contender's grid, with the grid options that list several values (named in a refusal).
    struct Grid: Sendable {
        var kind: ContenderKind
        var settings: [ContenderSetting]
        var tunedOptions: [String]
    }

    var grids: [Grid]
    /// Whether DANSeR blended with the best simple model competes too.
    var blend: Bool
    /// MRR@20 points the candidate may trail session kNN by before the night warns.
    var knnMargin: Double

    /// The nightly defaults: every contender with the nightly grids, the blend, a margin of 1 point.
    static let standard: ContestSettings = {
        let options = try! ContenderOptions.parse([])
        return try! ContestOptions.settings(contenders: ContenderKind.allCases, blend: true, knnMargin: 1, grids: options)
    }()

    /// No contender: the neural model serves as before the contest existed.
    static let none = ContestSettings(grids: [], blend: false, knnMargin: 1)

    var isEmpty: Bool { grids.isEmpty && !blend }

    /// The warning a night gives when the candidate's MRR@20 (percent) trails session kNN's by
    /// more than `margin` points, or is not finite; nil otherwise.
    static func knnWarning(candidate: RunReport.Comparison, knn: RunReport.Comparison, margin: Double, contest: Bool) -> String? {
        let gap = knn.mrrAt20 - candidate.mrrAt20
        guard gap > margin || !candidate.mrrAt20.isFinite else { return nil }
        return String(
            format: "the candidate's MRR@20 %.2f trails session kNN's %.2f by %.2f points (--knn-margin %.2f)%@",
            candidate.mrrAt20, knn.mrrAt20, gap, margin,
            contest ? "; the contest decides what serves" : "; no contender runs (--contenders none), so the candidate may still serve")
    }
}

/// `nightly`/`backfill`: which contenders the gate runs against the DANSeR candidate (see
/// docs/OPERATIONS.md, "The contest").
struct ContestOptions: ParsableArguments {
    @Option(help: "Contenders the night is also served by if one wins: comma-separated vsknn, stan, sr, slist, blend; or none.")
    var contenders = Settings.current.value(.contenders, or: "vsknn,stan,sr,slist,blend")

    @Option(help: "Warn in the log, the report and the ledger when the candidate's MRR@20 trails session kNN's by more than this many points.")
    var knnMargin = Settings.current.value(.knnMargin, or: 1.0)

    @OptionGroup(title: "Contender grids (nightly defaults are smaller than experiment's)") var grids: ContenderOptions

    /// The contenders named by `--contenders`, and whether the blend is among them.
    func parsedContenders() throws -> (kinds: [ContenderKind], blend: Bool) {
        let names = contenders.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if names == ["none"] { return ([], false) }
        var kinds: [ContenderKind] = []
        var blend = false
        for name in names {
            if name == "blend" { blend = true; continue }
            guard let kind = ContenderKind(rawValue: name) else {
                throw ValidationError("--contenders takes vsknn, stan, sr, slist and blend, comma-separated, or none (got '\(name)').")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return (kinds, blend)
    }

    func validate() throws {
        _ = try parsedContenders()
        guard knnMargin >= 0, knnMargin.isFinite else { throw ValidationError("--knn-margin must be zero or more points (got \(knnMargin)).") }
        for kind in try parsedContenders().kinds { _ = try grids.grid(for: kind, purpose: .nightly) }
    }

    func apply(to settings: inout NightlySettings) throws {
        let (kinds, blend) = try parsedContenders()
        settings.contest = try Self.settings(contenders: kinds, blend: blend, knnMargin: knnMargin, grids: grids)
    }

    static func settings(contenders: [ContenderKind], blend: Bool, knnMargin: Double, grids: ContenderOptions) throws -> ContestSettings {
        let list = try contenders.map { kind in
            let (settings, options) = try grids.grid(for: kind, purpose: .nightly)
            return ContestSettings.Grid(kind: kind, settings: settings, tunedOptions: options.filter { $0.count > 1 }.map(\.name))
        }
        return ContestSettings(grids: list, blend: blend, knnMargin: knnMargin)
    }
}
