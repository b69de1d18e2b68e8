import ArgumentParser
import Foundation

/// `danser-batch generate`: writes a synthetic click log for demos and tests.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a SYNTHETIC click log (generic CSV) with learnable structure, for demos and tests.",
        discussion: """
            Items form clusters with a popularity skew; sessions follow item-to-item habits, \
            repeat clicks and drift between clusters, at realistic times of day. Every id starts \
            with 'synthetic-'. The same options and seed always give the same file.
            """
    )

    @Option(help: "Output file; '.gz' compresses it.")
    var output = "synthetic-clicks.csv.gz"

    @Option(help: "Number of sessions (1 to 10,000,000).")
    var sessions = 20_000

    @Option(help: "Number of items in the catalogue (2 to 10,000,000).")
    var items = 2_000

    @Option(help: "Number of item clusters.")
    var clusters = 40

    @Option(help: "Days of history (1 to 3,650).")
    var days = 7

    @Option(help: "End of the history, exclusive, as YYYY-MM-DD in UTC (default: today).")
    var end: String?

    @Option(help: "Share of the catalogue released during the history, evenly over its days after the first (0 to 1).")
    var newItemShare = 0.0

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    func validate() throws {
        guard (1...10_000_000).contains(sessions) else { throw ValidationError("--sessions must be between 1 and 10,000,000 (got \(sessions)).") }
        guard (2...10_000_000).contains(items) else { throw ValidationError("--items must be between 2 and 10,000,000 (got \(items)).") }
        guard (1...items).contains(clusters) else { throw ValidationError("--clusters must be between 1 and --items (got \(clusters)).") }
        guard (1...3_650).contains(days) else { throw ValidationError("--days must be between 1 and 3,650 (got \(days)).") }
        guard (0...1).contains(newItemShare) else { throw ValidationError("--new-item-share must be between 0 and 1 (got \(newItemShare)).") }
        if let end, Self.parseDay(end) == nil { throw ValidationError("--end must be a date like 2026-05-25 (got '\(end)').") }
    }

    func run() throws {
        var options = SyntheticClickLog.Options()
        options.sessions = sessions
        options.items = items
        options.clusters = clusters
        options.days = days
        options.seed = seed
        options.newItemShare = newItemShare
        options.endMicros = end.flatMap(Self.parseDay) ?? Self.startOfToday()
        do {
            let count = try Self.write(options, to: output)
            print("wrote \(count) SYNTHETIC clicks (\(sessions) sessions, \(items) items, \(days) days to \(Timestamp.format(micros: options.endMicros))) to \(output)")
        } catch let error as InputError {
            printError(error.description)
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
    }

    /// Generates `options` into `path`, returning the number of clicks written.
    static func write(_ options: SyntheticClickLog.Options, to path: String) throws -> Int {
        let writer = try ClickCSVWriter(path: path)
        var count = 0
        try SyntheticClickLog(options: options).generate { record in
            try writer.write(record)
            count += 1
        }
        try writer.flush()
        return count
    }

    static func parseDay(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { Timestamp.parseISO8601($0) }
    }

    static func startOfToday() -> Int64 {
        let seconds = Int64(Date().timeIntervalSince1970)
        return (seconds - seconds % 86_400) * 1_000_000
    }
}

/// One line on standard error: messages for people, kept apart from data on standard output.
func printError(_ message: String) {
    LogOutput.errorLine(message)
}
