import FeatureStore
import Foundation
import Logging
import Testing

@testable import BatchJob

/// The two ways an import adds rows: straight into the log by COPY when none of the file's
/// clicks is there yet, through a staging table otherwise. Both must give the same log: each
/// click once, true repeats within a file numbered in file order. Needs TEST_DATABASE_URL (CI
/// sets it).
@Suite(.enabled(if: !(ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] ?? "").isEmpty, "needs TEST_DATABASE_URL"))
struct ClickImportPathTests {
    /// A new, migrated database on the test server.
    static func makeDatabase() throws -> ConnectionConfiguration {
        let admin = ConnectionConfiguration(ProcessInfo.processInfo.environment["TEST_DATABASE_URL"]!)
        let name = "import_\(UInt32.random(in: 0...UInt32.max))"
        try Connection(admin).query("CREATE DATABASE \(name)")
        let configuration = admin.withDatabase(name)
        let migrations = try Migration.load(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("sql").path)
        try Migrator(migrations).apply(on: try Connection(configuration))
        return configuration
    }

    static func writeFile(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("danser-import-\(UUID().uuidString).csv").path
        try Data((["session_id,item_id,timestamp"] + lines).map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func importer(_ configuration: ConnectionConfiguration, filterBits: Int = 27, direct: Bool = true) -> ClickImporter {
        var importer = ClickImporter(database: Database(configuration), logger: Logger(label: "test"))
        importer.showProgress = false
        importer.repeatFilterLog2Bits = filterBits
        importer.tryDirect = direct
        return importer
    }

    /// The log as sorted "session,item,time,ordinal" lines.
    static func log(_ configuration: ConnectionConfiguration) throws -> [String] {
        try Connection(configuration).query("""
            SELECT session_id || ',' || item_id || ',' || extract(epoch FROM event_time)::bigint || ',' || ordinal
            FROM danser.click_log ORDER BY 1
            """).rows().map { $0[0].stringValue ?? "" }
    }

    /// Rows with true repeats: session s(i % 20), item i(i % 4), minute i % 3 of a fixed hour,
    /// so the key of row i comes again at row i + 60.
    static func rows(_ range: Range<Int>) -> [String] {
        range.map { "s\($0 % 20),i\($0 % 4),2026-11-20T10:0\($0 % 3):00Z" }
    }

    /// What the rule says the log holds after importing `rows` (one file) into an empty log.
    static func expected(_ rows: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return rows.map { row -> String in
            let fields = row.split(separator: ",")
            let epoch = Int(ISO8601DateFormatter().date(from: String(fields[2]))!.timeIntervalSince1970)
            let key = "\(fields[0]),\(fields[1]),\(epoch)"
            seen[key, default: 0] += 1
            return "\(key),\(seen[key]!)"
        }.sorted()
    }

    @Test func aNewFileGoesStraightIntoTheLogWithExactOrdinals() throws {
        let database = try Self.makeDatabase()
        let lines = Self.rows(0..<600)
        let path = try Self.writeFile(lines)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try Self.importer(database).importFile(path, format: .genericCSV)
        #expect(outcome.path == .direct)
        #expect(outcome.imported == 600 && outcome.duplicates == 0, "\(outcome)")
        #expect(try Self.log(database) == Self.expected(lines))
    }

    /// A filter of 64 bits marks nearly every row as a possible repeat, so almost all of them take
    /// the exact path, first occurrences (the filter's false positives) included.
    @Test(arguments: [6, 8, 12])
    func filterFalsePositivesStillGetExactOrdinals(filterBits: Int) throws {
        let lines = Self.rows(0..<600) + (0..<300).map { "u\($0),j\($0 % 11),2026-11-20T11:00:00Z" }
        let path = try Self.writeFile(lines)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let direct = try Self.makeDatabase(), staged = try Self.makeDatabase()
        let viaDirect = try Self.importer(direct, filterBits: filterBits).importFile(path, format: .genericCSV)
        let viaStaging = try Self.importer(staged, filterBits: filterBits, direct: false).importFile(path, format: .genericCSV)
        #expect(viaDirect.path == .direct && viaStaging.path == .staged)
        #expect(viaDirect.imported == lines.count && viaStaging.imported == lines.count)
        #expect(try Self.log(direct) == Self.expected(lines))
        #expect(try Self.log(staged) == Self.expected(lines))
    }

    /// A file that overlaps the log is read again the staged way: only its new rows are added,
    /// and its bad rows are quarantined once, not once per reading.
    @Test(arguments: [6, 27])
    func anOverlappingFileFallsBackAndAddsOnlyItsNewRows(filterBits: Int) throws {
        let database = try Self.makeDatabase()
        let first = try Self.writeFile(Self.rows(0..<400))
        let second = try Self.writeFile(Self.rows(0..<400) + ["not a row"] + Self.rows(400..<700).map { "new-" + $0 })
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let importer = Self.importer(database, filterBits: filterBits)
        let one = try importer.importFile(first, format: .genericCSV)
        let two = try importer.importFile(second, format: .genericCSV)
        #expect(one.path == .direct && one.imported == 400)
        #expect(two.path == .staged, "\(two)")
        #expect(two.imported == 300 && two.duplicates == 400 && two.quarantined == 1, "\(two)")
        let quarantined = try Connection(database).query("SELECT count(*) FROM danser.quarantine WHERE import_id = $1", [.int64(two.importID)])
        #expect(try quarantined.scalar()?.int64Value == 1)
        let ledger = try Connection(database).query(
            "SELECT rows_imported, rows_duplicate, rows_quarantined FROM danser.imports WHERE import_id = $1", [.int64(two.importID)]).rows()
        #expect(ledger.first?.map { $0.int64Value } == [300, 400, 1])
        #expect(try Self.log(database).count == 700)
    }

    /// A later file that repeats only the last clicks of the log (its overlap at the end) also
    /// falls back, after its new rows were already sent.
    @Test func anOverlapAtTheEndOfTheFileFallsBackToo() throws {
        let database = try Self.makeDatabase()
        let first = try Self.writeFile(Self.rows(0..<100))
        let second = try Self.writeFile(Self.rows(100..<400).map { "new-" + $0 } + Self.rows(0..<100).suffix(5))
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let importer = Self.importer(database)
        _ = try importer.importFile(first, format: .genericCSV)
        let two = try importer.importFile(second, format: .genericCSV)
        #expect(two.path == .staged && two.imported == 300 && two.duplicates == 5, "\(two)")
    }
}
