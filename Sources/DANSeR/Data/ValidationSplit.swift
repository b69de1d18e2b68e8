/// How much of the training period is held out for choosing epochs, presets and
/// hyperparameters: the most recent sessions, by a share of them or by whole days.
public enum ValidationWindow: Sendable, Equatable, CustomStringConvertible {
    /// The most recent `share` (0 < share < 1) of training sessions by last-click time.
    case fraction(Double)
    /// Sessions whose last click falls in the final `days` days before the training cut.
    case days(Int)

    public var description: String {
        switch self {
        case .fraction(let share): "last \(share * 100)% of training sessions"
        case .days(let days): "last \(days) day(s) of the training period"
        }
    }
}

/// Training sessions split again by time into a part to fit on and a validation part, so that
/// nothing is ever chosen on the test split.
public struct ValidationSplit: Sendable {
    /// Sessions to fit on, in time order.
    public var fit: [Session]
    /// Held-out validation sessions (the most recent ones), in time order.
    public var validation: [Session]

    /// Splits `training` (in time order, with `endTimes` in microseconds parallel to it).
    /// Throws when either side would be empty.
    public init(training: [Session], endTimes: [Int64], window: ValidationWindow) throws(DANSeRError) {
        precondition(training.count == endTimes.count, "one end time per training session")
        let cut: Int
        switch window {
        case .fraction(let share):
            guard share > 0, share < 1 else {
                throw DANSeRError(.invalidConfiguration, "the validation share must be between 0 and 1 (got \(share))")
            }
            cut = training.count - Int((Double(training.count) * share).rounded())
        case .days(let days):
            guard days >= 1 else {
                throw DANSeRError(.invalidConfiguration, "validation days must be at least 1 (got \(days))")
            }
            let end = endTimes.max() ?? 0
            // Sessions ending within `days` whole days of the last training click.
            let from = end - Int64(days) * 86_400_000_000
            cut = endTimes.firstIndex { $0 > from } ?? training.count
        }
        guard cut > 0, cut < training.count else {
            throw DANSeRError(
                .datasetTooSmall,
                "the validation window (\(window)) leaves \(cut) of \(training.count) training sessions to fit on; "
                    + "choose a smaller validation window or supply more history")
        }
        fit = Array(training[..<cut])
        validation = Array(training[cut...])
    }

    /// Splits `training` at index `cut`: the first `cut` sessions to fit on, the rest to validate
    /// on (for a window another split chose). Throws when either side would be empty.
    public init(training: [Session], cut: Int, describing window: String) throws(DANSeRError) {
        guard cut > 0, cut < training.count else {
            throw DANSeRError(
                .datasetTooSmall,
                "the validation window (\(window)) leaves \(max(0, cut)) of \(training.count) training sessions to fit on")
        }
        fit = Array(training[..<cut])
        validation = Array(training[cut...])
    }
}
