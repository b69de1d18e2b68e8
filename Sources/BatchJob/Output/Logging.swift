import ArgumentParser
import Foundation
import Logging
import Synchronization

/// How log events are written: text for people at a terminal, one JSON object per line for cron
/// and log shippers. `auto` picks text when standard error is a terminal.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, text, json

    var resolved: LogFormat {
        guard self == .auto else { return self }
        return Terminal.isTerminal(STDERR_FILENO) ? .text : .json
    }
}

/// Options every subcommand takes for its output.
struct OutputOptions: ParsableArguments {
    @Option(help: "Log format: auto (text on a terminal, JSON lines otherwise), text or json (setting output.log_format).")
    var logFormat: LogFormat = Settings.current.value(.logFormat, or: .auto)

    @Option(help: "Lowest log level written: trace, debug, info, notice, warning, error, critical (setting output.log_level).")
    var logLevel: LogLevel = Settings.current.value(.logLevel, or: .info)

    /// Bootstraps swift-log once for this process (only the executable does this).
    func bootstrap() {
        let format = logFormat.resolved
        let level = Logger.Level(rawValue: logLevel.rawValue) ?? .info
        LoggingBootstrap.once(format: format, level: level)
    }
}

/// swift-log's levels as a command-line value.
enum LogLevel: String, ExpressibleByArgument, CaseIterable, Sendable {
    case trace, debug, info, notice, warning, error, critical
}

enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(format: LogFormat, level: Logger.Level) {
        let first = done.withLock { wasDone in
            defer { wasDone = true }
            return !wasDone
        }
        guard first else { return }
        LogOutput.format.withLock { $0 = format }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLineLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per event on standard error: time, level, logger, message and metadata.
struct JSONLineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.withFractionalSeconds.string(from: Date()),
            "level": event.level.rawValue,
            "logger": label,
            "message": event.message.description,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = value.jsonValue
        }
        if object["run_id"] == nil, let runID = LogOutput.runID { object["run_id"] = runID }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}

/// `HH:MM:SS level message key=value ...` on standard error, for a person at a terminal.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        if merged["run_id"] == nil, let runID = LogOutput.runID { merged["run_id"] = "\(runID)" }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = String(ISO8601DateFormatter.withFractionalSeconds.string(from: Date()).dropFirst(11).prefix(8))
        let level = event.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
        Terminal.clearProgressLine()
        FileHandle.standardError.write(Data("\(time) \(level) \(event.message)\(fields.isEmpty ? "" : " " + fields)\n".utf8))
    }
}

/// What every log line and the final error line share: the format chosen at bootstrap and the
/// run id, once the run has its ledger row.
enum LogOutput {
    static let format = Mutex<LogFormat?>(nil)
    private static let currentRunID = Mutex<Int64?>(nil)
    /// Before logging is bootstrapped (a bad setting at start-up): the format asked for.
    nonisolated(unsafe) static var formatBeforeBootstrap: LogFormat = .auto

    /// The run this process works for; added to every log line from now on.
    static var runID: Int64? {
        get { currentRunID.withLock { $0 } }
        set { currentRunID.withLock { $0 = newValue } }
    }

    /// The format from `--log-format` or the settings, before the command line is parsed.
    static func requestedFormat(arguments: [String], environment: [String: String]) -> LogFormat {
        let text = Settings.flagValue("--log-format", in: arguments) ?? environment[SettingKey.logFormat.variable]
        return text.flatMap { LogFormat(rawValue: $0.lowercased()) } ?? .auto
    }

    /// The final error line on standard error: JSON (level error, with the run id) when the logs
    /// are JSON, else `danser-batch: message`.
    static func errorLine(_ message: String) {
        let chosen = format.withLock { $0 } ?? formatBeforeBootstrap.resolved
        guard chosen == .json else {
            Terminal.clearProgressLine()
            FileHandle.standardError.write(Data(("danser-batch: " + message + "\n").utf8))
            return
        }
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.withFractionalSeconds.string(from: Date()),
            "level": "error", "logger": "danser", "message": message,
        ]
        if let runID { object["run_id"] = runID }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}

extension Logger.MetadataValue {
    /// The value as JSONSerialization accepts it; numbers written as strings stay strings.
    var jsonValue: Any {
        switch self {
        case .string(let text): return text
        case .stringConvertible(let value):
            if let number = value as? any BinaryInteger { return Int64(number) }
            if let number = value as? Double, number.isFinite { return number }
            if let number = value as? Float, number.isFinite { return Double(number) }
            if let flag = value as? Bool { return flag }
            return value.description
        case .array(let values): return values.map(\.jsonValue)
        case .dictionary(let values): return values.mapValues(\.jsonValue)
        }
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractionalSeconds: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
