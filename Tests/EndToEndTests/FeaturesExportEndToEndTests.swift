@testable import FeatureStore
import Foundation
import Testing

/// `danser-batch features export` run as a user would, on a model stored the way the nightly job
/// stores it: the CSV and .npy files hold the item ids and the exact floats, a damaged or missing
/// model is a clear error with its exit code, and a failed write leaves no file behind.
@Suite struct FeaturesExportEndToEndTests {
    /// Item ids that need care in CSV and .npy: a comma, a quote, a line break, non-ASCII.
    static let itemIDs = ["214536502", "a,b", "say \"hi\"", "two\nlines", "ünïcödé", "x"]
    static let dim = 4

    struct Stored {
        let database: ConnectionConfiguration
        let version: Int64
        let table: [Float]
        let clicks: [Int64]
        let priors: [Float]
    }

    /// A migrated database with the vocabulary (plus one newer item the model does not know) and
    /// one champion with its embeddings and statistics.
    static func stored() throws -> Stored {
        let database = try Harness.makeDatabase()
        let connection = try Connection(database)
        try Migrator(try Migration.load(from: Harness.projectRoot + "/sql")).apply(on: connection)
        try ItemVocabularyStore().append(itemIDs + ["newer"], after: 0, firstSeen: (0...itemIDs.count).map { _ in 0 }, on: connection)
        let registry = ModelRegistry()
        let version = try registry.insert(
            parentVersion: nil, mode: .retrain, asOfDay: 20_000, trainedThroughMicros: 0, itemCount: itemIDs.count, dim: dim,
            hyperparametersJSON: "{}", metricsJSON: "{}", fingerprint: "f", checkpoint: [1], runID: nil, on: connection)
        try registry.promote(version: version, change: .gate("test", runID: nil), on: connection)
        let rows = itemIDs.count + 1
        var table: [Float] = (0..<(rows * dim)).map { index -> Float in
            let wave = Float(sin(Double(index) * 1.7)) / Float(1 + index % 3)
            return wave * 1e-3 + Float(index % 5)
        }
        for column in 0..<dim { table[column] = 0 }
        table[dim + 1] = .leastNonzeroMagnitude
        table[dim + 2] = -123_456.789
        try FeatureRepository().saveEmbeddings(table, rows: rows, dim: dim, version: version, on: connection)
        let clicks: [Int64] = [0] + (1..<rows).map { Int64(100 * $0) }
        let priors: [Float] = clicks.map { Float(log((Double($0) + 1) / 2_106)) }
        try FeatureRepository().saveStatistics(
            NormalizationStatisticsRecord(
                clickCounts: clicks, logPriors: priors, totalClicks: 2_100, sessionPriorMean: -3.25, sessionPriorSD: 0.5,
                learnedScalarsJSON: #"{"b0": 0.5}"#),
            version: version, on: connection)
        return Stored(database: database, version: version, table: table, clicks: clicks, priors: priors)
    }

    @Test func csvHoldsTheItemIDsAndTheExactFloats() throws {
        let stored = try Self.stored()
        let file = Harness.scratchFolder + "/\(UUID().uuidString).csv"
        let run = try Harness.run(["features", "export", "--model", "\(stored.version)", "--format", "csv", "--out", file], database: stored.database)
        #expect(run.status == 0, "\(run.stderr)")
        let records = Self.parseCSV(try String(contentsOfFile: file, encoding: .utf8))
        #expect(records.first == ["item_id"] + (0..<Self.dim).map { "e\($0)" })
        #expect(records.dropFirst().map { $0[0] } == Self.itemIDs)
        for (offset, record) in records.dropFirst().enumerated() {
            let row = offset + 1
            let expected = stored.table[(row * Self.dim)..<((row + 1) * Self.dim)].map(\.bitPattern)
            #expect(record.dropFirst().map { Float($0)?.bitPattern } == expected, "row of \(record[0])")
        }

        // The champion is the default model; statistics carry the per-item figures.
        let statisticsFile = Harness.scratchFolder + "/\(UUID().uuidString).csv"
        let statistics = try Harness.run(["features", "export", "--kind", "statistics", "--format", "csv", "--out", statisticsFile], database: stored.database)
        #expect(statistics.status == 0, "\(statistics.stderr)")
        #expect(statistics.stderr.contains("total_clicks 2100"))
        let statisticsRecords = Self.parseCSV(try String(contentsOfFile: statisticsFile, encoding: .utf8))
        #expect(statisticsRecords.first == ["item_id", "item_index", "click_count", "log_prior"])
        #expect(statisticsRecords.dropFirst().map { $0[1] } == (1...Self.itemIDs.count).map(String.init))
        #expect(statisticsRecords.dropFirst().map { Int64($0[2]) } == stored.clicks.dropFirst().map { $0 })
        #expect(statisticsRecords.dropFirst().map { Float($0[3])?.bitPattern } == stored.priors.dropFirst().map(\.bitPattern))
    }

    @Test func npyIsOneStructuredRecordPerItem() throws {
        let stored = try Self.stored()
        let file = Harness.scratchFolder + "/\(UUID().uuidString).npy"
        let run = try Harness.run(["features", "export", "--format", "npy", "--out", file], database: stored.database)
        #expect(run.status == 0, "\(run.stderr)")
        let bytes = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
        #expect(bytes.starts(with: [0x93] + Array("NUMPY".utf8) + [1, 0]))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect((10 + headerLength) % 64 == 0)
        let width = Self.itemIDs.map { $0.unicodeScalars.count }.max()!
        #expect(header.hasPrefix("{'descr': [('item_id', '<U\(width)'), ('vector', '<f4', (\(Self.dim),))], 'fortran_order': False, 'shape': (\(Self.itemIDs.count),), }"))
        // Each record: the id in UCS-4, zero-padded, then dim little-endian floats.
        let recordSize = 4 * width + 4 * Self.dim
        #expect(bytes.count == 10 + headerLength + recordSize * Self.itemIDs.count)
        for (offset, itemID) in Self.itemIDs.enumerated() {
            let start = 10 + headerLength + offset * recordSize
            let scalars = stride(from: start, to: start + 4 * width, by: 4).map { Self.uint32(bytes, $0) }.filter { $0 != 0 }
            #expect(String(String.UnicodeScalarView(scalars.compactMap(Unicode.Scalar.init))) == itemID)
            let floats = (0..<Self.dim).map { Self.uint32(bytes, start + 4 * width + 4 * $0) }
            #expect(floats == stored.table[((offset + 1) * Self.dim)..<((offset + 2) * Self.dim)].map(\.bitPattern))
        }
        // NumPy itself, where a Python with NumPy is installed, reads it without pickle.
        if let python = Self.pythonWithNumPy {
            let check = try Subprocess.run("/usr/bin/env", [python, "-c", """
                import sys, numpy
                a = numpy.load(sys.argv[1], allow_pickle=False)
                print(a.shape[0], a["vector"].shape[1], a["vector"].dtype, repr([str(x) for x in a["item_id"][1:4]]), float(a["vector"][1, 1]))
                """, file])
            #expect(check.status == 0, "\(check.output)")
            #expect(check.output.hasPrefix("\(Self.itemIDs.count) \(Self.dim) float32 ['a,b', 'say \"hi\"', 'two\\nlines'] \(Double(stored.table[2 * Self.dim + 1]))"), "\(check.output)")
        } else {
            print("numpy check skipped: no python3 with numpy")
        }
    }

    @Test func badRequestsAreClearErrorsAndLeaveNoFile() throws {
        let stored = try Self.stored()
        let folder = Harness.scratchFolder + "/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let unknown = try Harness.run(["features", "export", "--model", "999", "--format", "csv", "--out", folder + "/x.csv"], database: stored.database)
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("there is no model 999"))
        let noFolder = try Harness.run(["features", "export", "--format", "csv", "--out", folder + "/missing/x.csv"], database: stored.database)
        #expect(noFolder.status == 73, "\(noFolder.stderr)")
        #expect(noFolder.stderr.contains("missing/x.csv"))
        let badFormat = try Harness.run(["features", "export", "--format", "parquet", "--out", folder + "/x"], database: stored.database)
        #expect(badFormat.status == 64)

        // A damaged chunk fails its checksum: exit 65 and no file, not wrong numbers.
        try Connection(stored.database).query("UPDATE danser.item_embeddings SET blob = set_byte(blob, 40, get_byte(blob, 40) # 1)")
        let damaged = try Harness.run(["features", "export", "--format", "npy", "--out", folder + "/x.npy"], database: stored.database)
        #expect(damaged.status == 65, "\(damaged.stderr)")
        #expect(damaged.stderr.contains("corrupt"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)

        // No champion and no --model.
        try Connection(stored.database).query("UPDATE danser.models SET status = 'retired'")
        let noChampion = try Harness.run(["features", "export", "--format", "csv", "--out", folder + "/x.csv"], database: stored.database)
        #expect(noChampion.status == 64)
        #expect(noChampion.stderr.contains("--model"))
    }

    // MARK: - Helpers

    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    /// RFC 4180 records (quoted fields may hold commas, doubled quotes and line breaks).
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if scalars.first == "\"" { field.unicodeScalars.append(scalars.removeFirst()) } else { quoted = false }
                } else {
                    field.unicodeScalars.append(scalar)
                }
            } else if scalar == "\"" {
                quoted = true
            } else if scalar == "," {
                record.append(field)
                field = ""
            } else if scalar == "\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !record.isEmpty { records.append(record + [field]) }
        return records
    }

    static let pythonWithNumPy: String? = {
        for candidate in ["python3", "/usr/bin/python3"] {
            if let status = try? Subprocess.run("/usr/bin/env", [candidate, "-c", "import numpy"]).status, status == 0 { return candidate }
        }
        return nil
    }()
}
