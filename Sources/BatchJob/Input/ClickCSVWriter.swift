internal import CZlib

/// Writes the generic click CSV (`session_id,item_id,timestamp`), gzip-compressed when the path
/// ends in `.gz`, so generated or exported logs read back through `LineReader`.
final class ClickCSVWriter {
    let path: String
    private let file: gzFile
    private var pending: [UInt8] = []

    init(path: String) throws(InputError) {
        self.path = path
        // "T" asks zlib for plain, uncompressed output through the same calls.
        let mode = path.hasSuffix(".gz") ? "wb6" : "wbT"
        guard let handle = gzopen(path, mode) else {
            throw InputError(code: .unreadable, path: path, detail: "cannot create the file (check the folder exists and is writable)")
        }
        file = handle
        pending.reserveCapacity(1 << 16)
        pending.append(contentsOf: (GenericClickCSV.header + "\n").utf8)
    }

    deinit { gzclose(file) }

    func write(_ record: ClickRecord) throws(InputError) {
        pending.append(contentsOf: record.sessionID.utf8)
        pending.append(UInt8(ascii: ","))
        pending.append(contentsOf: record.itemID.utf8)
        pending.append(UInt8(ascii: ","))
        pending.append(contentsOf: Timestamp.format(micros: record.timeMicros).utf8)
        pending.append(UInt8(ascii: "\n"))
        if pending.count >= 1 << 16 { try flush() }
    }

    /// Writes what is buffered; call once at the end (closing alone does not report errors).
    func flush() throws(InputError) {
        guard !pending.isEmpty else { return }
        let written = pending.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard written == Int32(pending.count) else {
            throw InputError(code: .unreadable, path: path, detail: "write failed (disk full?)")
        }
        pending.removeAll(keepingCapacity: true)
    }
}
