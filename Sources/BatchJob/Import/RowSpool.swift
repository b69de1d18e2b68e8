import FeatureStore
import Foundation

/// Rows in binary COPY format, spooled to an anonymous temp file while another COPY streams
/// (one connection cannot run two COPYs at once) and replayed later in the same transaction.
/// Memory stays bounded however many rows there are.
final class RowSpool {
    private let file: UnsafeMutablePointer<FILE>
    private let what: String
    /// Writes the rows: `beginRow`, then the fields.
    var writer: BinaryCopyWriter

    /// `what` names the rows in errors, e.g. "quarantined rows".
    init(of what: String) throws {
        guard let file = tmpfile() else {
            throw FeatureStoreError(.configuration, "cannot create a temporary file for \(what)", hint: "check TMPDIR and free disk space")
        }
        self.file = file
        self.what = what
        self.writer = BinaryCopyWriter(flushThreshold: 1 << 18) { bytes in
            guard fwrite(bytes.baseAddress, 1, bytes.count, file) == bytes.count else {
                throw FeatureStoreError(.configuration, "cannot write \(what) to a temporary file (disk full?)")
            }
        }
    }

    deinit { fclose(file) }

    var count: Int { writer.rowCount }

    /// Sends every spooled byte, the COPY header and trailer included, in pieces.
    func replay(_ send: (UnsafeRawBufferPointer) throws -> Void) throws {
        try writer.finish()
        fflush(file)
        rewind(file)
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if read == 0 { break }
            try chunk.withUnsafeBytes { try send(UnsafeRawBufferPointer(rebasing: $0[0..<read])) }
        }
        if ferror(file) != 0 { throw FeatureStoreError(.configuration, "cannot read \(what) back from their temporary file") }
    }
}
