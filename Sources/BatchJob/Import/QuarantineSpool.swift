import FeatureStore
import Foundation

/// Bad rows of one import, spooled to an anonymous temp file in binary COPY format while the
/// click COPY streams (one connection cannot run two COPYs at once), then copied into
/// `danser.quarantine` in the same transaction. Memory stays bounded however many rows are bad.
final class QuarantineSpool {
    /// Raw lines are kept up to this many characters.
    static let rawLineLimit = 1_000
    private let file: UnsafeMutablePointer<FILE>
    private var writer: BinaryCopyWriter
    private(set) var count = 0
    private(set) var countsByKind: [RowProblem.Kind: Int] = [:]

    init() throws {
        guard let file = tmpfile() else {
            throw FeatureStoreError(.configuration, "cannot create a temporary file for quarantined rows",
                hint: "check TMPDIR and free disk space")
        }
        self.file = file
        self.writer = BinaryCopyWriter(flushThreshold: 1 << 18) { bytes in
            guard fwrite(bytes, 1, bytes.count, file) == bytes.count else {
                throw FeatureStoreError(.configuration, "cannot write quarantined rows to a temporary file (disk full?)")
            }
        }
    }

    deinit { fclose(file) }

    /// Columns written, in order.
    static let columns = "(import_id, source, line_number, reason, raw_line)"

    func add(importID: Int64, source: String, line: Int, problem: RowProblem, raw: UnsafeBufferPointer<UInt8>) throws {
        count += 1
        countsByKind[problem.kind, default: 0] += 1
        let text = String(String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\0", with: "\u{FFFD}").prefix(Self.rawLineLimit))
        try writer.beginRow(fieldCount: 5)
        writer.appendInt64(importID)
        writer.appendText(source)
        writer.appendInt64(Int64(line))
        writer.appendText(problem.reason)
        writer.appendText(text)
    }

    /// Copies every spooled row into `danser.quarantine`.
    func copy(into connection: Connection) throws {
        guard count > 0 else { return }
        try writer.finish()
        fflush(file)
        rewind(file)
        try connection.copyIn("COPY danser.quarantine \(Self.columns) FROM STDIN (FORMAT binary)") { send in
            var chunk = [UInt8](repeating: 0, count: 1 << 18)
            while true {
                let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if read == 0 { break }
                try chunk.withUnsafeBytes { try send(UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
            }
        }
    }
}
