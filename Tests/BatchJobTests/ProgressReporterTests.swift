import Logging
import Synchronization
import Testing

@testable import BatchJob

/// Collects log events in memory, so tests never bootstrap the logging system.
final class RecordingLogHandler: LogHandler, Sendable {
    let events = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(event: LogEvent) {
        events.withLock { $0.append((event.level, event.message.description, event.metadata ?? [:])) }
    }
}

@Suite struct ProgressReporterTests {
    @Test func withoutATerminalItLogsStructuredEventsAndADoneLine() {
        let handler = RecordingLogHandler()
        let logger = Logger(label: "test") { _ in handler }
        let progress = ProgressReporter(label: "import", total: 1000, unit: "rows", logger: logger, interactive: false, logInterval: 0)
        for _ in 0..<10 { progress.advance(by: 100) }
        progress.finish()
        progress.finish()
        let events = handler.events.withLock { $0 }
        #expect(events.filter { $0.1 == "progress" }.count == 10)
        #expect(events.last?.1 == "import done")
        #expect(events.last?.2["completed"] == "1000")
        #expect(events.filter { $0.1 == "import done" }.count == 1)
    }

    @Test func formatsNumbersAndDurations() {
        #expect(ProgressReporter.compact(982_961) == "982.96k" || ProgressReporter.compact(982_961) == "983.0k")
        #expect(ProgressReporter.compact(2_500_000) == "2.50M")
        #expect(ProgressReporter.duration(75) == "1:15")
        #expect(ProgressReporter.duration(3725) == "1:02:05")
        #expect(ProgressReporter.duration(.infinity) == "--:--")
    }
}
