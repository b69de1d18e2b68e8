import ArgumentParser
import Foundation

/// The day a run is for (`--as-of`): a UTC calendar date. Every stage reads clicks strictly before
/// its midnight, so a rerun of the same date sees the same data whatever the wall clock says.
struct LogicalDate: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByArgument {
    /// Days since 1970-01-01.
    let day: Int64

    init(day: Int64) { self.day = day }

    init?(argument: String) {
        guard argument.utf8.count == 10 else { return nil }
        var text = argument
        guard let micros = text.withUTF8({ Timestamp.parseISO8601($0) }) else { return nil }
        day = micros / 86_400_000_000
    }

    static func today(now: Date = Date()) -> LogicalDate {
        LogicalDate(day: Int64(floor(now.timeIntervalSince1970 / 86_400)))
    }

    /// Midnight UTC starting this day, in microseconds since the epoch: the exclusive end of the
    /// clicks a run for this date may read.
    var startMicros: Int64 { day * 86_400_000_000 }

    func adding(days: Int) -> LogicalDate { LogicalDate(day: day + Int64(days)) }

    var description: String { String(Timestamp.format(micros: startMicros).prefix(10)) }

    static func < (lhs: LogicalDate, rhs: LogicalDate) -> Bool { lhs.day < rhs.day }
}
