import Foundation
import Testing

@testable import FeatureStore

private func count(_ sql: String, _ database: ConnectionConfiguration) throws -> Int64 {
    try Connection(database).query(sql).scalar()?.int64Value ?? -1
}

private func gzip(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sh", "-c", "gzip -c '\(path)' > '\(path).gz'"]
    try process.run()
    process.waitUntilExit()
    return path + ".gz"
}

/// Each click counted once however it arrives: the same rows again, appended to, recompressed,
/// cut short or overlapping add only the clicks not yet in the log.
@Suite struct ImportIdempotencyEndToEndTests {
    static let header = "session_id,item_id,timestamp\n"
    static let rows = (0..<40).map { "s\($0 / 4),i\($0 % 7),2026-11-\(10 + $0 / 10)T10:00:\(10 + $0 % 10)Z\n" }

    @Test func overlappingAppendedRecompressedAndPrefixFilesAddOnlyNewClicks() throws {
        let database = try Harness.makeDatabase()
        let first = try Harness.temporaryFile(Array((Self.header + Self.rows[0..<30].joined()).utf8))
        let run1 = try Harness.run(["import", first], database: database)
        #expect(run1.status == 0, "\(run1.stderr)")
        #expect(run1.stdout.contains("30 rows new, 0 duplicate, 0 quarantined"), "\(run1.stdout)")

        // One byte changed (in the header): new file, same clicks.
        let changed = try Harness.temporaryFile(Array(("Session_id,item_id,timestamp\n" + Self.rows[0..<30].joined()).utf8))
        let run2 = try Harness.run(["import", changed], database: database)
        #expect(run2.stdout.contains("0 rows new, 30 duplicate, 0 quarantined"), "\(run2.stdout)")

        // Rows appended: only the appended ones are new.
        let appended = try Harness.temporaryFile(Array((Self.header + Self.rows.joined()).utf8))
        let run3 = try Harness.run(["import", appended], database: database)
        #expect(run3.stdout.contains("10 rows new, 30 duplicate, 0 quarantined"), "\(run3.stdout)")

        // The same content gzipped, a prefix, and an overlap without a header.
        let run4 = try Harness.run(["import", try gzip(appended)], database: database)
        #expect(run4.stdout.contains("0 rows new, 40 duplicate"), "\(run4.stdout)")
        let prefix = try Harness.temporaryFile(Array((Self.header + Self.rows[0..<5].joined()).utf8))
        let run5 = try Harness.run(["import", prefix], database: database)
        #expect(run5.stdout.contains("0 rows new, 5 duplicate"), "\(run5.stdout)")
        #expect(try count("SELECT count(*) FROM danser.click_log", database) == 40)
        #expect(try count("SELECT sum(rows_duplicate)::int8 FROM danser.imports", database) == 105)
        #expect(try count("SELECT (row_counts->>'duplicate')::int8 FROM danser.runs ORDER BY run_id DESC LIMIT 1", database) == 5)
    }

    @Test func trueRepeatsWithinAFileAreKeptAndCountedOnceAcrossFiles() throws {
        let database = try Harness.makeDatabase()
        // The same click twice in one file is two clicks (a double click), kept as ordinals 1 and 2.
        let twice = "s1,i1,2026-11-20T10:00:00Z\ns1,i2,2026-11-20T10:00:05Z\ns1,i1,2026-11-20T10:00:00Z\n"
        let a = try Harness.temporaryFile(Array(twice.utf8))
        let runA = try Harness.run(["import", a], database: database)
        #expect(runA.stdout.contains("3 rows new, 0 duplicate"), "\(runA.stdout) \(runA.stderr)")
        // Another export holding the click three times adds exactly one more.
        let thrice = try Harness.temporaryFile(Array((twice + "s1,i1,2026-11-20T10:00:00Z\n").utf8))
        let runB = try Harness.run(["import", thrice], database: database)
        #expect(runB.stdout.contains("1 rows new, 3 duplicate"), "\(runB.stdout)")
        #expect(try count("SELECT count(*) FROM danser.click_log WHERE item_id = 'i1'", database) == 3)
    }

    @Test func standardInputStreamsAndIsCountedOnce() throws {
        let database = try Harness.makeDatabase()
        let file = try Harness.temporaryFile(Array((Self.header + Self.rows.joined()).utf8))
        for expected in ["40 rows new, 0 duplicate", "0 rows new, 40 duplicate"] {
            let process = Harness.makeProcess(["import", "-"], database: database, environment: [:])
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(output.contains("(standard input): \(expected)"), "\(output)")
        }
    }

    @Test func aFIFOIsRefusedAtOnceWithAClearMessage() throws {
        let database = try Harness.makeDatabase()
        #expect(try Harness.run(["migrate"], database: database).status == 0)
        let fifo = Harness.scratchFolder + "/clicks-\(UUID().uuidString).csv"
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        let run = try Harness.run(["import", fifo], database: database)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(run.status == 66, "\(run.stderr)")
        #expect(run.stderr.contains("FIFO") && run.stderr.contains("'-'"), "\(run.stderr)")
        // Nothing was started: no run row left running.
        #expect(try count("SELECT count(*) FROM danser.runs WHERE status = 'running'", database) == 0)
        let device = try Harness.run(["import", "/dev/zero"], database: database)
        #expect(device.status == 66 && device.stderr.contains("device"), "\(device.stderr)")
    }
}

/// Real CSV: RFC 4180 quoting, a byte order mark, extra fields and implausible times.
@Suite struct ImportCSVEndToEndTests {
    @Test func byteOrderMarkIsNotPartOfTheFirstId() throws {
        let database = try Harness.makeDatabase()
        let file = try Harness.temporaryFile([0xEF, 0xBB, 0xBF] + Array("s1,i1,2026-11-20T10:00:00Z\ns1,i2,2026-11-20T10:01:00Z\n".utf8))
        let run = try Harness.run(["import", file], database: database)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(try count("SELECT count(*) FROM danser.click_log WHERE session_id = 's1'", database) == 2)
    }

    @Test func quotedFieldsMayHoldCommasQuotesAndLineBreaks() throws {
        let database = try Harness.makeDatabase()
        let text = "session_id,item_id,timestamp\n\"1\n2\",\"a,\"\"b\"\"\",2026-11-20T10:00:00Z\ns2,i2,2026-11-20T10:01:00Z\n"
        let file = try Harness.temporaryFile(Array(text.utf8))
        let run = try Harness.run(["import", file], database: database)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("2 rows new, 0 duplicate, 0 quarantined"), "\(run.stdout)")
        let rows = try Connection(database).query("SELECT session_id, item_id FROM danser.click_log ORDER BY session_id").rows()
        #expect(rows.map { $0[0].stringValue ?? "" } == ["1\n2", "s2"])
        #expect(rows.first?[1].stringValue == "a,\"b\"")
    }

    @Test func extraFieldsAndImplausibleTimesAreQuarantinedWithTheReason() throws {
        let database = try Harness.makeDatabase()
        let text = """
            session_id,item_id,timestamp
            s1,i1,2026-11-20T10:00:00Z,surprise
            s1,i1,1900-01-01T00:00:00Z
            s1,i1,0001-01-01T00:00:00Z
            s1,i2,2026-11-20T10:00:00Z

            """
        let file = try Harness.temporaryFile(Array(text.utf8))
        let run = try Harness.run(["import", file], database: database)
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("1 rows new, 0 duplicate, 3 quarantined"), "\(run.stdout)")
        let reasons = try Connection(database).query("SELECT line_number, reason FROM danser.quarantine ORDER BY line_number").rows()
        #expect(reasons.map { $0[0].int64Value ?? 0 } == [2, 3, 4])
        let texts = reasons.map { $0[1].stringValue ?? "" }
        #expect(texts.first?.hasPrefix("extra fields") == true, "\(texts)")
        #expect(texts.dropFirst().allSatisfy { $0.hasPrefix("timestamp before the earliest accepted") } && texts.count == 3, "\(texts)")
        // The floor is configurable.
        let older = try Harness.temporaryFile(Array("s9,i9,1990-05-01T00:00:00Z\n".utf8))
        let again = try Harness.run(["import", older, "--earliest-time", "1980-01-01", "--format", "generic-csv"], database: database)
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
    }
}
