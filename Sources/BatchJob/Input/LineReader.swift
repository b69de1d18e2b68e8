internal import CZlib
#if canImport(Glibc)
internal import Glibc
#endif

/// Why a click file could not be read at all (as opposed to one bad row in it).
struct InputError: Error, CustomStringConvertible {
    enum Code: Sendable { case notFound, unreadable, notRegularFile, corrupt }
    let code: Code
    let path: String
    let detail: String

    var description: String {
        switch code {
        case .notFound: return "cannot open \(path): \(detail). Check the path and that the file exists."
        case .unreadable: return "cannot read \(path): \(detail). Check the file's permissions."
        case .notRegularFile:
            return "refusing \(path): it is \(detail), not a regular file (reading it could wait forever). "
                + "To stream from a pipe, give '-' for standard input: ... | danser-batch import -"
        case .corrupt: return "\(path) is damaged: \(detail). Re-export or re-download the file."
        }
    }
}

/// Streams a text file record by record, gunzipping on the fly when it is gzip (zlib reads plain
/// files unchanged), so memory stays bounded by one buffer and one record whatever the file size.
/// A record is a line, or with `quotedNewlines` an RFC 4180 record whose quoted fields may hold
/// line breaks. A UTF-8 byte order mark at the start is dropped.
final class LineReader {
    /// Records longer than this are reported as too long (and truncated) rather than buffered whole.
    let maxLineLength: Int
    let path: String
    private let file: gzFile
    private var buffer: [UInt8]
    private var line: [UInt8] = []
    /// RFC 4180: a field that starts with a double quote runs to its closing quote, line breaks
    /// included (`""` inside stands for one quote). May be switched on after the first record.
    var quotedNewlines = false
    /// Field separator for `quotedNewlines` (a quote opens a quoted field only at a field's start).
    var separator = UInt8(ascii: ",")

    /// Size of the file on disk, for progress (compressed bytes for a .gz file); nil for a stream.
    let fileSize: Int64?

    /// The name that stands for standard input.
    static let standardInput = "-"

    init(path: String, maxLineLength: Int = 65_536) throws(InputError) {
        self.path = path
        self.maxLineLength = maxLineLength
        let handle: gzFile?
        if path == Self.standardInput {
            handle = gzdopen(dup(0), "rb")
            fileSize = nil
        } else {
            let info = try Self.regularFile(path)
            handle = gzopen(path, "rb")
            fileSize = Int64(info.st_size)
        }
        guard let handle else {
            throw InputError(code: .unreadable, path: path, detail: String(cString: strerror(errno)))
        }
        gzbuffer(handle, 1 << 17)
        self.file = handle
        self.buffer = [UInt8](repeating: 0, count: 1 << 17)
        line.reserveCapacity(min(maxLineLength, 4096))
    }

    /// The file's status when it exists and is a regular file; a FIFO, device or socket is refused
    /// before anything opens it (opening a FIFO blocks until a writer comes).
    @discardableResult
    static func regularFile(_ path: String) throws(InputError) -> stat {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw InputError(code: errno == EACCES ? .unreadable : .notFound, path: path, detail: String(cString: strerror(errno)))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return info
        case S_IFIFO: throw InputError(code: .notRegularFile, path: path, detail: "a FIFO (named pipe)")
        case S_IFCHR, S_IFBLK: throw InputError(code: .notRegularFile, path: path, detail: "a device")
        case S_IFSOCK: throw InputError(code: .notRegularFile, path: path, detail: "a socket")
        case S_IFDIR: throw InputError(code: .notRegularFile, path: path, detail: "a directory")
        default: throw InputError(code: .notRegularFile, path: path, detail: "not a regular file")
        }
    }

    deinit { gzclose(file) }

    /// Bytes of the file consumed so far (compressed offset for .gz), for progress bars.
    var bytesConsumed: Int64 { Int64(gzoffset(file)) }

    /// Where the RFC 4180 scanner is within a record.
    private enum QuoteState { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// Calls `body` for every record, numbered by the line it starts on (from 1), without its
    /// line terminator (LF or CRLF). `truncated` is true when the record was longer than
    /// `maxLineLength`; `bytes` then holds only its first `maxLineLength` bytes.
    func forEachLine(
        _ body: (_ number: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ truncated: Bool) throws -> Void
    ) throws {
        var physicalLine = 1
        var recordStart = 1
        var truncated = false
        var atFileStart = true
        var state = QuoteState.fieldStart
        func finishLine() throws {
            if !truncated && line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.count > maxLineLength {
                truncated = true
                line.removeLast(line.count - maxLineLength)
            }
            try line.withUnsafeBufferPointer { try body(recordStart, $0, truncated) }
            line.removeAll(keepingCapacity: true)
            truncated = false
            state = .fieldStart
            physicalLine += 1
            recordStart = physicalLine
        }
        let newline = UInt8(ascii: "\n"), quote = UInt8(ascii: "\"")
        while true {
            let count = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 { throw corruption() }
            if count == 0 { break }
            try buffer.withUnsafeBufferPointer { chunk in
                let end = Int(count)
                var start = 0
                if atFileStart {
                    atFileStart = false
                    if end >= 3 && chunk[0] == 0xEF && chunk[1] == 0xBB && chunk[2] == 0xBF { start = 3 }
                }
                while start < end {
                    var stop = start
                    if quotedNewlines {
                        let separator = self.separator
                        scan: while stop < end {
                            let byte = chunk[stop]
                            switch state {
                            case .quoted:
                                if byte == quote { state = .quoteInQuoted } else if byte == newline { physicalLine += 1 }
                            case .fieldStart, .unquoted, .quoteInQuoted:
                                if byte == newline { break scan }
                                if byte == separator {
                                    state = .fieldStart
                                } else if byte == quote && state != .unquoted {
                                    state = .quoted  // opens a field, or `""` inside one
                                } else {
                                    state = .unquoted
                                }
                            }
                            stop += 1
                            // Over the limit inside quotes: quotes stop counting, so an unbalanced
                            // quote costs at most one over-long record.
                            if state == .quoted && line.count + (stop - start) > maxLineLength {
                                truncated = true
                                state = .unquoted
                            }
                        }
                    } else {
                        while stop < end && chunk[stop] != newline { stop &+= 1 }
                    }
                    // Keep one byte past the limit so a CR ending a full-length line is not mistaken
                    // for an overflow.
                    let take = min(stop - start, max(0, maxLineLength + 1 - line.count))
                    line.append(contentsOf: chunk[start..<(start + take)])
                    if stop - start > take { truncated = true }
                    if stop < end { try finishLine() }
                    start = stop + 1
                }
            }
        }
        var code: Int32 = 0
        _ = gzerror(file, &code)
        if code != Z_OK && code != Z_STREAM_END { throw corruption() }
        if !line.isEmpty || truncated { try finishLine() }
    }

    private func corruption() -> InputError {
        var code: Int32 = 0
        let message = String(cString: gzerror(file, &code))
        return InputError(code: .corrupt, path: path, detail: message)
    }
}
