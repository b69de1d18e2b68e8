import FeatureStore
import Foundation

/// Bad rows of one import, spooled while the click COPY streams, then copied into
/// `danser.quarantine` in the same transaction. Memory stays bounded however many rows are bad.
final class QuarantineSpool {
    /// Raw lines are kept up to this many characters.
    static let rawLineLimit = 1_000
    private let spool: RowSpool
    private(set) var countsByKind: [RowProblem.Kind: Int] = [:]

    init() throws { spool = try RowSpool(of: "quarantined rows") }

    var count: Int { spool.count }

    /// Columns written, in order.
    static let columns = "(import_id, source, line_number, reason, raw_line)"

    func add(importID: Int64, source: String, line: Int, problem: RowProblem, raw: UnsafeBufferPointer<UInt8>) throws {
        countsByKind[problem.kind, default: 0] += 1
        let text = String(String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\0", with: "\u{FFFD}").prefix(Self.rawLineLimit))
        try spool.writer.beginRow(fieldCount: 5)
        spool.writer.appendInt64(importID)
        spool.writer.appendText(source)
        spool.writer.appendInt64(Int64(line))
        spool.writer.appendText(problem.reason)
        spool.writer.appendText(text)
    }

    /// Copies every spooled row into `danser.quarantine`.
    func copy(into connection: Connection) throws {
        guard count > 0 else { return }
        try connection.copyIn("COPY danser.quarantine \(Self.columns) FROM STDIN (FORMAT binary)") { send in try spool.replay(send) }
    }
}
