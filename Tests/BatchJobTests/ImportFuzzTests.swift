import FeatureStore
import Foundation
import Logging
import Testing

@testable import BatchJob

/// Random bytes and mutated valid lines through the import parsers (the record reader with and
/// without RFC 4180 quoting, every format's row parser, format detection): no crash, and every
/// record ends as exactly one of a row or a quarantined line, with no input line lost or counted
/// twice. Seeded with the demo's SplitMix64 (the seed is in every message). A longer,
/// coverage-guided run is possible with libFuzzer (docs/OPERATIONS.md).
@Suite struct ImportFuzzTests {
    static let valid: [String] = [
        "s1,i1,2026-11-20T10:00:00Z", "\"s,1\",\"i\"\"2\",2026-11-20T10:00:00.123+01:00",
        "1;NA;81766;526309;2016-05-09", "1,2014-04-07T10:51:09.277Z,214536502,0",
        "1\t214536502\t1396860669.277", "1442004589\t0\t285930\t0", "1442004589000\t0\t285930\t7",
        "session_id,item_id,timestamp",
    ]
    static let interesting: [UInt8] = Array(",;\t\"\r\n\0:.-+TZ0123456789".utf8) + [0xEF, 0xBB, 0xBF, 0xFF, 0xC3, 0x80]

    static func mutate(_ line: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = line
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            let byte = Bool.random(using: &random) ? interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] = byte
            case 1: bytes.insert(byte, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3: bytes.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "9"), count: Int.random(in: 1...40, using: &random)), at: position)
            case 4 where !bytes.isEmpty: bytes.insert(contentsOf: bytes[position...].prefix(16), at: position)
            default: bytes = Array(bytes.prefix(position))
            }
        }
        return bytes
    }

    static func makeCase(_ random: inout SplitMix64) -> [UInt8] {
        if Int.random(in: 0..<4, using: &random) == 0 {
            return (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        return mutate(Array(valid.randomElement(using: &random)!.utf8), &random)
    }

    /// Reads `bytes` as a file and checks the record accounting; returns the records.
    static func records(of bytes: [UInt8], quoted: Bool, maxLineLength: Int = 200) throws -> [(Int, [UInt8], Bool)] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("danser-fuzz-\(UUID().uuidString).csv").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try LineReader(path: path, maxLineLength: maxLineLength)
        reader.quotedNewlines = quoted
        var records: [(Int, [UInt8], Bool)] = []
        try reader.forEachLine { number, line, truncated in records.append((number, Array(line), truncated)) }
        return records
    }

    @Test func randomAndMutatedLinesNeverCrashAndEveryLineIsAccountedForOnce() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let started = Date()
        var cases = 0
        var parsed = 0, quarantined = 0
        // 100 files of 1,000 cases each: every case goes through the record reader (with and
        // without quoting) and every record through all five row parsers and detection.
        for _ in 0..<100 {
            var file: [UInt8] = []
            for _ in 0..<1_000 {
                file += Self.makeCase(&random)
                file.append(UInt8(ascii: "\n"))
                cases += 1
            }
            let physicalLines = file.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            for quoted in [false, true] {
                let records = try Self.records(of: file, quoted: quoted)
                // Records start on increasing lines from 1 and never past the last line: each
                // input line belongs to exactly one record. (Plain checks in the loop: an
                // #expect per record would cost more than the parsing.)
                var problems: [String] = []
                if records.first?.0 != 1 { problems.append("first record at line \(records.first?.0 ?? 0)") }
                for (previous, next) in zip(records, records.dropFirst()) where next.0 <= previous.0 {
                    problems.append("record at line \(next.0) follows one at \(previous.0)")
                }
                if (records.last?.0 ?? 0) > physicalLines { problems.append("a record starts past the last line") }
                if !quoted && records.count != physicalLines { problems.append("\(records.count) records of \(physicalLines) lines") }
                for (index, (_, line, truncated)) in records.enumerated() {
                    if line.count > 200 { problems.append("a record of \(line.count) bytes") }
                    guard quoted else { continue }
                    line.withUnsafeBufferPointer { buffer in
                        if index % 20 == 0 { _ = ClickFormat.detect(firstLine: buffer) }
                        for format in ClickFormat.allCases {
                            switch format.parse(buffer, truncated: truncated, latestAllowed: .max) {
                            case .ok(let session, let item, _):
                                parsed += 1
                                for id in [session, item] {
                                    if case .range(let range) = id, range.lowerBound < 0 || range.upperBound > buffer.count {
                                        problems.append("an id outside its line")
                                    }
                                }
                            case .problem: quarantined += 1
                            }
                        }
                    }
                }
                if !problems.isEmpty { Issue.record("seed \(seed), quoted \(quoted): \(problems.prefix(5))") }
            }
        }
        #expect(cases >= 100_000)
        print("import fuzz: \(cases) cases (\(parsed) rows parsed, \(quarantined) quarantined across formats) in "
            + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s, seed \(seed)")
    }

    /// The whole import on a real database: every record of a fuzzed file is new, a duplicate or
    /// quarantined, exactly once. Needs TEST_DATABASE_URL (CI sets it).
    @Test(.enabled(if: !(ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] ?? "").isEmpty, "needs TEST_DATABASE_URL"))
    func everyRecordOfAFuzzedFileEndsImportedDuplicateOrQuarantined() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        var file = Array("session_id,item_id,timestamp\n".utf8)
        for index in 0..<5_000 {
            // Valid rows (some repeated) among the damaged ones, so all three outcomes occur.
            if index % 3 == 0 {
                file += Array("s\(index % 50),i\(index % 7),2026-11-2\(index % 3)T10:00:00Z\n".utf8)
            } else {
                file += Self.mutate(Array(Self.valid[Int.random(in: 0..<2, using: &random)].utf8), &random) + [UInt8(ascii: "\n")]
            }
        }
        let records = try Self.records(of: file, quoted: true, maxLineLength: 65_536).count - 1  // less the header
        let configuration = try ClickImportPathTests.makeDatabase()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("danser-fuzz-\(UUID().uuidString).csv").path
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var importer = ClickImporter(database: Database(configuration), logger: Logger(label: "fuzz"))
        importer.showProgress = false
        let outcome = try importer.importFile(path, format: .genericCSV)
        #expect(outcome.imported + outcome.duplicates + outcome.quarantined == records, "seed \(seed): \(outcome)")
        #expect(outcome.imported > 0 && outcome.quarantined > 0, "seed \(seed): \(outcome)")
        // The same rows in a different file (one more blank line): nothing new, every valid row a duplicate.
        try Data(file + [UInt8(ascii: "\n")]).write(to: URL(fileURLWithPath: path))
        let again = try importer.importFile(path, format: .genericCSV)
        #expect(again.imported == 0 && again.duplicates == outcome.imported + outcome.duplicates, "seed \(seed): \(again)")
    }
}
