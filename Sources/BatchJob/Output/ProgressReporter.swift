import Foundation
import Logging
import Synchronization

/// Progress of one long step (import, an epoch, scoring). On a terminal: one bar redrawn in place
/// with rate and time left. Otherwise (cron, pipes): a structured `progress` log event every
/// `logInterval` seconds, so a log shows the job is alive without flooding it.
final class ProgressReporter: Sendable {
    private struct State {
        var completed: Int64 = 0
        var lastDraw: Double = 0
        var finished = false
    }

    let label: String
    let unit: String
    let total: Int64?
    private let interactive: Bool
    private let logger: Logger
    private let logInterval: Double
    private let start = ProgressReporter.now()
    private let state = Mutex(State())

    init(label: String, total: Int64?, unit: String, logger: Logger,
         interactive: Bool = Terminal.isTerminal(STDERR_FILENO), logInterval: Double = 15) {
        self.label = label
        self.total = total
        self.unit = unit
        self.logger = logger
        self.interactive = interactive
        self.logInterval = logInterval
    }

    func advance(by count: Int64 = 1) { report { $0 += count } }

    func update(completed: Int64) { report { $0 = completed } }

    /// Draws the final state once and ends the bar's line.
    func finish() {
        let completed: Int64? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return state.completed
        }
        guard let completed else { return }
        let elapsed = Self.now() - start
        if interactive {
            draw(completed: completed, elapsed: elapsed, final: true)
        } else {
            logger.info("\(label) done", metadata: metadata(completed: completed, elapsed: elapsed))
        }
    }

    private func report(_ change: (inout Int64) -> Void) {
        let now = Self.now()
        let interval = interactive ? 0.1 : logInterval
        let due: Int64? = state.withLock { state in
            change(&state.completed)
            guard !state.finished, now - state.lastDraw >= interval else { return nil }
            state.lastDraw = now
            return state.completed
        }
        guard let due else { return }
        if interactive {
            draw(completed: due, elapsed: now - start, final: false)
        } else {
            logger.info("progress", metadata: metadata(completed: due, elapsed: now - start))
        }
    }

    private func metadata(completed: Int64, elapsed: Double) -> Logger.Metadata {
        var fields: Logger.Metadata = [
            "step": "\(label)", "completed": "\(completed)", "unit": "\(unit)",
            "elapsed_s": "\(String(format: "%.1f", elapsed))",
            "rate_per_s": "\(String(format: "%.1f", elapsed > 0 ? Double(completed) / elapsed : 0))",
        ]
        if let total { fields["total"] = "\(total)" }
        return fields
    }

    private func draw(completed: Int64, elapsed: Double, final: Bool) {
        let rate = elapsed > 0 ? Double(completed) / elapsed : 0
        var line = "\(label) "
        if let total, total > 0 {
            let fraction = min(1, Double(completed) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += String(format: "%3.0f%% ", fraction * 100)
            line += "\(Self.compact(Double(completed)))/\(Self.compact(Double(total))) \(unit)"
            if !final && rate > 0 { line += "  left " + Self.duration(Double(total - completed) / rate) }
        } else {
            line += "\(Self.compact(Double(completed))) \(unit)"
        }
        line += "  \(Self.compact(rate)) \(unit)/s  " + Self.duration(elapsed)
        Terminal.progressLineShown.withLock { $0 = !final }
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (final ? "\n" : "")).utf8))
    }

    static func compact(_ value: Double) -> String {
        switch value {
        case 1e9...: return String(format: "%.2fG", value / 1e9)
        case 1e6...: return String(format: "%.2fM", value / 1e6)
        case 1e4...: return String(format: "%.1fk", value / 1e3)
        default: return String(format: value == value.rounded() ? "%.0f" : "%.1f", value)
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let whole = Int(seconds)
        return whole >= 3600 ? String(format: "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60) : String(format: "%d:%02d", whole / 60, whole % 60)
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
