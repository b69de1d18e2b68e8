import Foundation
import Testing

@testable import BatchJob

/// Writes `text` to a fresh temporary file (gzipped when `gzip` is set) and returns its path.
func temporaryFile(_ text: String, gzip: Bool = false) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("danser-input-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("clicks.csv").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    guard gzip else { return path }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "gzip -f '\(path)'"]
    try process.run()
    process.waitUntilExit()
    return path + ".gz"
}

func readLines(_ path: String, maxLineLength: Int = 65_536) throws -> [(Int, String, Bool)] {
    var lines: [(Int, String, Bool)] = []
    try LineReader(path: path, maxLineLength: maxLineLength).forEachLine { number, bytes, truncated in
        lines.append((number, String(decoding: bytes, as: UTF8.self), truncated))
    }
    return lines
}

@Suite struct LineReaderTests {
    @Test(arguments: [false, true])
    func readsPlainAndGzipAlike(gzip: Bool) throws {
        let path = try temporaryFile("a,1\r\nb,2\n\nc,3", gzip: gzip)
        let lines = try readLines(path)
        #expect(lines.map(\.1) == ["a,1", "b,2", "", "c,3"])
        #expect(lines.map(\.0) == [1, 2, 3, 4])
    }

    @Test func flagsAndTruncatesLongLines() throws {
        let path = try temporaryFile("short\n" + String(repeating: "x", count: 50) + "\nexact\r\nend\n")
        let lines = try readLines(path, maxLineLength: 5)
        #expect(lines.map(\.1) == ["short", "xxxxx", "exact", "end"])
        #expect(lines.map(\.2) == [false, true, false, false])
    }

    @Test func missingFileIsANamedError() {
        #expect(throws: InputError.self) { try LineReader(path: "/nonexistent/clicks.csv") }
        do {
            _ = try LineReader(path: "/nonexistent/clicks.csv")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.description.contains("/nonexistent/clicks.csv"))
        }
    }

    @Test func truncatedGzipIsCorrupt() throws {
        let path = try temporaryFile(String(repeating: "1,2,2016-01-01T00:00:00Z\n", count: 5000), gzip: true)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: InputError.self) { _ = try readLines(path) }
    }
}

@Suite struct TimestampTests {
    func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { Timestamp.parseISO8601($0) }
    }

    @Test func parsesTheFormsClickLogsUse() {
        #expect(parse("1970-01-01T00:00:00Z") == 0)
        #expect(parse("2016-05-25T00:00:00Z") == 1_464_134_400_000_000)
        #expect(parse("2016-05-25") == 1_464_134_400_000_000)
        #expect(parse("2016-05-25 00:00:01") == 1_464_134_401_000_000)
        #expect(parse("2014-04-07T10:51:09.277Z") == 1_396_867_869_277_000)
        #expect(parse("2016-05-25T02:00:00+02:00") == 1_464_134_400_000_000)
        #expect(parse("2016-02-29T00:00:00Z") != nil)
    }

    @Test(arguments: ["", "2016-13-01", "2015-02-29", "2016-05-25T25:00:00Z", "yesterday", "2016-05-25T00:00:00Zjunk", "2016-05-25T00:00"])
    func rejectsMalformed(_ text: String) {
        #expect(parse(text) == nil)
    }

    @Test func formatsRoundTrip() {
        for micros: Int64 in [0, 1_464_134_400_000_000, 1_396_867_869_000_000, -86_400_000_000] {
            #expect(parse(Timestamp.format(micros: micros)) == micros)
        }
    }

    @Test func parsesUnixSeconds() {
        var text = "1396860669.277"
        #expect(text.withUTF8 { Timestamp.parseUnixSeconds($0) } == 1_396_860_669_277_000)
        text = "12a"
        #expect(text.withUTF8 { Timestamp.parseUnixSeconds($0) } == nil)
    }
}

@Suite struct GenericClickCSVTests {
    func parse(_ line: [UInt8]) -> Result<ClickRecord, RowProblem> {
        line.withUnsafeBufferPointer { GenericClickCSV.parse($0) }
    }

    @Test func parsesARow() throws {
        let record = try parse(Array("42,\"item,7\",2016-01-01T00:01:40Z".utf8)).get()
        #expect(record == ClickRecord(sessionID: "42", itemID: "item,7", timeMicros: 1_451_606_500_000_000))
    }

    @Test func namesEachProblem() {
        #expect(parse(Array("1,2".utf8)).failureKind == .missingField)
        #expect(parse(Array("1,,2016-01-01".utf8)).failureKind == .missingField)
        #expect(parse(Array("1,2,soon".utf8)).failureKind == .badTimestamp)
        #expect(parse([0x31, 0x2C, 0xFF, 0xFE, 0x2C, 0x31]).failureKind == .invalidUTF8)
    }

    @Test func recognisesTheHeader() {
        #expect(Array("session_id,item_id,timestamp".utf8).withUnsafeBufferPointer { GenericClickCSV.isHeader($0) })
        #expect(!Array("1,2,2016-01-01".utf8).withUnsafeBufferPointer { GenericClickCSV.isHeader($0) })
    }
}

extension Result where Failure == RowProblem {
    var failureKind: RowProblem.Kind? {
        if case .failure(let problem) = self { return problem.kind }
        return nil
    }
}
