import ArgumentParser
import DANSeR

/// The order of the finishing pass's sessions (`FinishingPass.inTimeOrder`): day by day, oldest
/// first and shuffled within each day, so the pass ends on the most recent day; or one shuffle
/// of the whole window (the order before day by day was chosen on validation).
enum FinishOrder: String, ExpressibleByArgument, CaseIterable {
    case dayByDay = "day-by-day"
    case shuffled

    init(of pass: FinishingPass) { self = pass.inTimeOrder ? .dayByDay : .shuffled }

    var inTimeOrder: Bool { self == .dayByDay }
}
