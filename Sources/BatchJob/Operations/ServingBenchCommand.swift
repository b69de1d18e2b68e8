import ArgumentParser
import DANSeR
import FeatureStore
import Foundation
import Logging

/// `danser-batch bench-serving`: the nightly serving path against its ceilings, measured in the
/// same run: top-K scoring vs a plain sgemm, publishing rows vs `psql \copy`, and the embedding
/// codec (byte-shuffle + LZ4 vs plain LZ4).
struct ServingBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-serving",
        abstract: "Benchmark scoring (vs cblas_sgemm), publishing (vs psql \\copy) and the embedding codec.",
        discussion: "Run on an otherwise idle machine. The publish part uses the configured or embedded database."
    )

    @Option(help: "Parts to run: score, publish, codec, approximate (comma-separated; approximate is heavy at 10^6 items).")
    var parts = "score,publish,codec"
    @Option(help: "Catalogue size for scoring.") var items = 43_097
    @Option(help: "Sessions to score (the second pass scores four times as many, to show memory stays flat).") var sessions = 20_000
    @Option(help: "Recommendation rows to publish.") var rows = 2_000_000
    @Option(help: "Threads.") var threads = 2
    @Option(help: "publish: connections that write the day side by side, as the nightly job's --publish-streams.")
    var publishStreams = Settings.current.value(.publishStreams, or: 2)
    @Option(help: "Checkpoint file of a trained model (its weights are scored and its embeddings compressed); default: random weights.")
    var checkpoint: String?
    @Option(help: "approximate: catalogue sizes, comma-separated (synthetic clustered embeddings; with --checkpoint its catalogue too).")
    var approximateItems = "100000,1000000"
    @Option(help: "approximate: inverted-file cells scanned per query, comma-separated.") var probes = "4,16,64"
    @Option(help: "approximate: sessions scored exactly and approximately per catalogue.") var approximateSessions = 2_000
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try NightlyOptions.validatePublishStreams(publishStreams)
    }

    func run() throws {
        output.bootstrap()
        let chosen = Set(parts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        try FailureReport.run {
            print(MachineDescription.current(threads: threads))
            let model = try loadModel()
            if chosen.contains("score") { try benchScoring(model) }
            if chosen.contains("codec") { benchCodec(model) }
            if chosen.contains("publish") { try benchPublish() }
            if chosen.contains("approximate") { try benchApproximate(checkpointModel: checkpoint == nil ? nil : model) }
        }
    }

    private func loadModel() throws -> Model {
        if let checkpoint {
            guard let data = FileManager.default.contents(atPath: checkpoint) else {
                throw InputError(code: .notFound, path: checkpoint, detail: "no such checkpoint file")
            }
            let model = try Checkpoint(decoding: data).makeModel()
            print("model: trained checkpoint \(checkpoint) (\(model.itemCount) items, d \(model.configuration.hiddenSize))")
            return model
        }
        print("model: SR-GNN with random weights, \(items) items, d 100 (scoring cost does not depend on the weights)")
        return try Model(configuration: .srgnn, itemCount: items, seed: 1)
    }

    /// Sessions of 2-8 clicks drawn with a popularity skew, reproducibly.
    private func sampleSessions(_ count: Int, items: Int) -> [Session] {
        var random = SplitMix64(seed: 7)
        return (0..<count).map { _ in
            (0..<(2 + Int(random.next(below: 7)))).map { _ in
                let u = random.nextUnit()
                return Int32(1 + Int(Double(items - 1) * u * u))
            }
        }
    }

    private func benchScoring(_ model: Model) throws {
        BLAS.setThreadCount(threads)
        let kernels = try KernelBenchmark.run(hidden: model.configuration.hiddenSize, items: model.itemCount, repetitions: 20, threads: threads)
        // Scoring splits the catalogue over its own threads, each a one-thread sgemm, as training does.
        BLAS.setThreadCount(1)
        let flopsPerSession = 2.0 * Double(model.configuration.hiddenSize) * Double(model.itemCount)
        let ceiling = kernels.plainProduct * 1e9 / flopsPerSession
        var recommender = Recommender(model: model)
        recommender.threads = threads
        print("scoring: top-20 over \(model.itemCount) items, batch 100, \(threads) threads")
        print(String(format: "  plain cblas_sgemm (100x%d)*(%dx%d): %.1f GFLOP/s = ceiling %.0f sessions/s", model.configuration.hiddenSize, model.configuration.hiddenSize, model.itemCount, kernels.plainProduct, ceiling))
        for count in [sessions, sessions * 4] {
            let input = sampleSessions(count, items: model.itemCount)
            let start = Date()
            var produced = 0
            recommender.topK(input, k: 20) { _, results in produced += results.count }
            let seconds = Date().timeIntervalSince(start)
            let rate = Double(produced) / seconds
            print(String(format: "  %7d sessions: %.2f s, %.0f sessions/s = %.2f of the sgemm ceiling; resident %.0f MiB, peak %.0f MiB",
                count, seconds, rate, rate / ceiling, ProcessMemory.currentMiB(), ProcessMemory.peakMiB()))
        }
    }

    /// Recall@20 and speed-up of the inverted-file top-K against exact scoring, per catalogue size.
    private func benchApproximate(checkpointModel: Model?) throws {
        BLAS.setThreadCount(1)
        let probeCounts = try Self.integers(probes, option: "--probes")
        var models: [(String, Model, [Session])] = []
        if let checkpointModel {
            models.append(("trained checkpoint", checkpointModel, sampleSessions(approximateSessions, items: checkpointModel.itemCount)))
        }
        for items in try Self.integers(approximateItems, option: "--approximate-items") {
            let sessions = RetrievalBenchmark.sessions(count: approximateSessions, items: items)
            models.append(("synthetic clustered", try RetrievalBenchmark.syntheticModel(items: items, sessions: sessions), sessions))
        }
        print("approximate top-20 (FAISS IVF-Flat, inner product in d + 1) against exact, \(approximateSessions) sessions, \(threads) threads")
        for (kind, model, sessions) in models {
            for row in try RetrievalBenchmark.run(model: model, sessions: sessions, probes: probeCounts, threads: threads) {
                print(String(format: "  %@ %8d items, %4d lists, %3d probes: recall@20 %.3f; exact %.0f, approximate %.0f sessions/s = %.1fx; index built in %.1f s; peak %.0f MiB",
                    kind as NSString, row.items, row.lists, row.probes, row.recall, row.exactSessionsPerSecond,
                    row.approximateSessionsPerSecond, row.approximateSessionsPerSecond / row.exactSessionsPerSecond,
                    row.buildSeconds, ProcessMemory.peakMiB()))
            }
        }
    }

    private static func integers(_ text: String, option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw JobError(.usage, "\(option) takes positive whole numbers separated by commas (got '\(text)')")
        }
        return values.map { $0! }
    }

    private func benchCodec(_ model: Model) {
        let embeddings = model.itemEmbeddings
        let rawBytes = Double(embeddings.table.count * 4)
        print(String(format: "codec: %d x %d float32 embeddings (%.1f MB)%@", embeddings.rows, embeddings.dim, rawBytes / 1e6, checkpoint == nil ? ", random weights: trained ones compress differently" : ""))
        for codec in [EmbeddingCodec.lz4, .shuffleLZ4] {
            var chunks: [[UInt8]] = []
            let encodeStart = Date()
            for _ in 0..<5 { chunks = EmbeddingChunks.encode(embeddings.table, rows: embeddings.rows, dim: embeddings.dim, codec: codec) }
            let encodeSeconds = Date().timeIntervalSince(encodeStart) / 5
            let stored = Double(chunks.reduce(0) { $0 + $1.count })
            let decodeStart = Date()
            var ok = true
            for _ in 0..<5 {
                let decoded = try? EmbeddingChunks.decode(chunks, rows: embeddings.rows, dim: embeddings.dim, name: "bench")
                ok = ok && decoded?.count == embeddings.table.count
            }
            let decodeSeconds = Date().timeIntervalSince(decodeStart) / 5
            print(String(format: "  %@ ratio %.3f (%.1f MB stored), encode %.0f MB/s, decode %.0f MB/s%@", (codec.description + String(repeating: " ", count: max(0, 12 - codec.description.count))) as NSString,
                rawBytes / stored, stored / 1e6, rawBytes / 1e6 / encodeSeconds, rawBytes / 1e6 / decodeSeconds, ok ? "" : "  DECODE FAILED"))
        }
    }

    private func benchPublish() throws {
        let logger = Logger(label: "danser.bench")
        let connection = try database.migratedConnection(logger: logger)
        let configuration = try database.connectionConfiguration(logger: logger)
        let day: Int32 = 0  // 1970-01-01: never a real night
        let sessionsNeeded = rows / 20
        // Rows in the order the nightly job writes them: sessions by id, ranks ascending; ids
        // made once, as the job takes them from its sessions and its vocabulary.
        let sessionIDs = (0..<(rows + 19) / 20).map { "bench-session-\($0)" }.sorted()
        let itemIDs = (0..<43_097).map { "item-\($0)" }
        func row(_ index: Int) -> RecommendationRow {
            RecommendationRow(sessionID: sessionIDs[index / 20], rank: Int16(index % 20 + 1), itemID: itemIDs[(index * 7_919) % 43_097], score: Float(20 - index % 20) * 0.5)
        }
        // The same rows as CSV for psql.
        let csvPath = NSTemporaryDirectory() + "danser-bench-\(getpid()).csv"
        FileManager.default.createFile(atPath: csvPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: csvPath))
        var text = ""
        for index in 0..<rows {
            let r = row(index)
            text += "1970-01-01,\(r.sessionID),\(r.rank),\(r.itemID),\(r.score),1,1,\(r.isFallback ? "t" : "f")\n"
            if text.utf8.count > 1 << 20 { handle.write(Data(text.utf8)); text = "" }
        }
        handle.write(Data(text.utf8))
        try handle.close()
        defer { try? FileManager.default.removeItem(atPath: csvPath) }

        let publisher = RecommendationPublisher()
        let staging = try publisher.createStaging(day: day, k: 20, streams: publishStreams, on: connection)
        let tables = BenchmarkTables()
        // Each side starts from a checkpoint, so neither pays for writing out the other's pages.
        let checkpointed = tables.checkpoint(on: connection)
        let copyStart = Date()
        let copyCPUStart = ProcessTime.cpuSeconds()
        try publisher.copy(into: staging, day: day, modelVersion: 1, runID: 1, on: connection) { write in
            var batch: [RecommendationRow] = []
            batch.reserveCapacity(2_000)
            for index in 0..<rows {
                batch.append(row(index))
                if batch.count == 2_000 { try write(batch); batch.removeAll(keepingCapacity: true) }
            }
            try write(batch)
        }
        let copySeconds = Date().timeIntervalSince(copyStart)
        let copyCPU = ProcessTime.cpuSeconds() - copyCPUStart
        let swapStart = Date()
        try connection.withTransaction { try publisher.publish(day: day, runID: 1, modelVersion: 1, sessions: sessionsNeeded, on: $0) }
        let swapSeconds = Date().timeIntervalSince(swapStart)

        guard !configuration.containsPassword else {
            throw JobError(.usage, "the publish benchmark runs psql with the connection string on its command line: keep the password in ~/.pgpass or PGPASSWORD, not in the URL")
        }
        try tables.createComparisonTable(on: connection)
        if checkpointed { tables.checkpoint(on: connection) }
        let psqlStart = Date()
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        psql.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "\\copy \(BenchmarkTables.comparisonTable) FROM '\(csvPath)' WITH (FORMAT csv)"]
        var environment = ProcessInfo.processInfo.environment
        environment["PGDATABASE"] = nil
        psql.arguments! += ["-d", configuration.expandedConninfo()]
        psql.environment = environment
        try psql.run()
        psql.waitUntilExit()
        let psqlSeconds = Date().timeIntervalSince(psqlStart)
        try tables.dropComparisonTable(on: connection)
        try tables.dropDay(day, on: connection)
        guard psql.terminationStatus == 0 else { throw JobError(.usage, "psql \\copy failed (exit \(psql.terminationStatus))") }
        print("publish: \(rows) recommendation rows, in the nightly job's order (sessions by id), \(staging.parts.count) stream(s)")
        print(String(format: "  psql \\copy (CSV) into an identical table: %.2f s", psqlSeconds))
        print(String(format: "  binary COPY into staging%@%.2f s = %.2f x psql (encoding here: %.2f s of CPU)", staging.parts.count > 1 ? ", parts keyed:    " : ":                 ", copySeconds, copySeconds / psqlSeconds, copyCPU))
        print(String(format: "  audit-ready swap (key index + attach):    %.2f s; staging + swap = %.2f x psql", swapSeconds, (copySeconds + swapSeconds) / psqlSeconds))
        print(String(format: "  peak memory: %.0f MiB%@", ProcessMemory.peakMiB(), checkpointed ? "; a checkpoint before each side" : "; no checkpoint between the sides (needs a superuser or pg_checkpoint)"))
        if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            print("  load average: " + load.split(separator: " ").prefix(3).joined(separator: " "))
        }
    }
}
