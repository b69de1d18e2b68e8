import ArgumentParser
import FeatureStore
import Foundation
import Logging

/// `danser-batch features export`: the feature store's read path. Writes one model's item
/// embeddings (item id, then the vector) or its per-item normalization statistics as CSV or
/// .npy, for tools that cannot read the compressed blobs (docs/FEATURES.md).
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Read the feature store: export a model's item embeddings or normalization statistics.",
        subcommands: [ExportFeatures.self]
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case embeddings, statistics
    }

    struct ExportFeatures: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a model's item embeddings or per-item statistics to a CSV or .npy file.",
            discussion: """
                embeddings: one row per item of the model, item_id then the vector (CSV columns item_id, \
                e0 ... e<dim-1>; .npy fields item_id and vector). statistics: item_id, item_index, click_count, log_prior; the \
                model-wide figures go to standard error and are in bi.normalization_stats. The file appears \
                whole or not at all.
                """)

        @Option(help: "Model version. Default: the champion.") var model: Int64?
        @Option(help: "What to export: embeddings or statistics.") var kind: Kind = .embeddings
        @Option(help: "csv or npy.") var format: FeatureFileFormat
        @Option(help: "Output file, or - for standard output.") var out: String
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard !out.isEmpty else { throw ValidationError("--out must name a file (or - for standard output).") }
            if let model, model < 1 { throw ValidationError("--model must be a model version (1 or more); see danser-batch models list.") }
        }

        func run() throws {
            output.bootstrap()
            let logger = Logger(label: "danser.features")
            try FailureReport.run {
                let connection = try database.migratedConnection(logger: logger)
                let export = try FeatureExport.load(kind: kind, model: model, on: connection)
                let bytes = try export.write(format: format, to: out)
                logger.info("features exported", metadata: [
                    "model": "\(export.model.version)", "kind": "\(kind.rawValue)", "items": "\(export.itemIDs.count)",
                    "dim": "\(export.model.dim)", "bytes": "\(bytes)", "out": "\(out)",
                ])
                if let summary = export.statisticsSummary { FileHandle.standardError.write(Data((summary + "\n").utf8)) }
            }
        }
    }
}

extension FeatureFileFormat: ExpressibleByArgument {}

/// One model's features, read back from the store and decoded, ready to write.
struct FeatureExport {
    let kind: FeaturesCommand.Kind
    let model: ModelRecord
    /// External ids of items 1...N, in the model's order (row i of the export is item index i + 1).
    let itemIDs: [String]
    /// (N + 1) x dim, row 0 the padding (embeddings only).
    var embeddings: [Float] = []
    var statistics: NormalizationStatisticsRecord?

    static func load(kind: FeaturesCommand.Kind, model version: Int64?, on connection: Connection) throws -> FeatureExport {
        let registry = ModelRegistry()
        let model: ModelRecord
        if let version {
            guard let record = try registry.record(version: version, on: connection) else {
                throw JobError(.usage, "there is no model \(version); see danser-batch models list")
            }
            model = record
        } else {
            guard let champion = try registry.champion(on: connection) else {
                throw JobError(.usage, "there is no champion yet; pass --model with a version from danser-batch models list")
            }
            model = champion
        }
        let vocabulary = try ItemVocabularyStore().load(on: connection)
        guard vocabulary.count >= model.itemCount else {
            throw JobError(.tooLittleData,
                "model \(model.version) knows \(model.itemCount) items but the vocabulary holds \(vocabulary.count); the feature store is inconsistent")
        }
        var export = FeatureExport(kind: kind, model: model, itemIDs: Array(vocabulary.prefix(model.itemCount)))
        let features = FeatureRepository()
        switch kind {
        case .embeddings:
            export.embeddings = try features.loadEmbeddings(version: model.version, rows: model.itemCount + 1, dim: model.dim, on: connection)
        case .statistics:
            guard let statistics = try features.loadStatistics(version: model.version, on: connection) else {
                throw JobError(.tooLittleData, "model \(model.version) has no normalization statistics; export another model (danser-batch models list)")
            }
            guard statistics.clickCounts.count == model.itemCount + 1 else {
                throw JobError(.tooLittleData,
                    "the statistics of model \(model.version) cover \(statistics.clickCounts.count - 1) items, the model \(model.itemCount)")
            }
            export.statistics = statistics
        }
        return export
    }

    var columns: [FeatureColumn] {
        switch kind {
        case .embeddings: return [.text("item_id"), .float32("vector", count: model.dim, csvPrefix: "e")]
        case .statistics: return [.text("item_id"), .int32("item_index"), .int64("click_count"), .float32("log_prior", count: 1)]
        }
    }

    /// The model-wide statistics as one line, for the operator (nil for embeddings).
    var statisticsSummary: String? {
        guard let statistics else { return nil }
        return "model \(model.version): total_clicks \(statistics.totalClicks), items \(model.itemCount), "
            + "session_prior_mean \(statistics.sessionPriorMean), session_prior_sd \(statistics.sessionPriorSD), "
            + "learned_scalars \(statistics.learnedScalarsJSON)"
    }

    /// Writes the file (to a temporary name, renamed at the end, so it appears whole or not at
    /// all), or standard output for "-". Returns the bytes written.
    @discardableResult
    func write(format: FeatureFileFormat, to path: String) throws -> Int {
        let longest = itemIDs.lazy.map { $0.unicodeScalars.count }.max() ?? 0
        let encoder = FeatureFileEncoder(format: format, columns: columns, rowCount: itemIDs.count, longestText: longest)
        let sink = try FeatureSink(path: path)
        var buffer = encoder.header()
        var total = 0
        let dim = model.dim
        for (offset, itemID) in itemIDs.enumerated() {
            let item = offset + 1
            switch kind {
            case .embeddings:
                encoder.append([.text(itemID), .float32(embeddings[(item * dim)..<((item + 1) * dim)])], to: &buffer)
            case .statistics:
                let statistics = statistics!
                encoder.append([
                    .text(itemID), .int32(Int32(item)), .int64(statistics.clickCounts[item]),
                    .float32(statistics.logPriors[item...item]),
                ], to: &buffer)
            }
            if buffer.count >= 1 << 20 {
                try sink.write(buffer)
                total += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try sink.write(buffer)
        total += buffer.count
        try sink.commit()
        return total
    }
}

/// A file written under a temporary name and renamed into place on `commit`, or standard output.
final class FeatureSink {
    let path: String
    private let handle: FileHandle
    private let temporaryPath: String?
    private var committed = false

    init(path: String) throws {
        self.path = path
        if path == "-" {
            handle = FileHandle.standardOutput
            temporaryPath = nil
            return
        }
        let temporary = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            printError("cannot create \(path): check that its folder exists and is writable")
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
        self.handle = handle
        temporaryPath = temporary
    }

    func write(_ bytes: [UInt8]) throws {
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            printError("cannot write \(path): \(error.localizedDescription) (disk full?)")
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
    }

    func commit() throws {
        guard let temporaryPath else { return }
        do {
            try handle.close()
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporaryPath, toPath: path)
            committed = true
        } catch {
            printError("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.cantCreate.rawValue)
        }
    }

    deinit {
        if let temporaryPath, !committed {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporaryPath)
        }
    }
}
