internal import CZlib
#if canImport(Glibc)
internal import Glibc
#endif

/// Why a click file could not be read at all (as opposed to one bad row in it).
struct InputError: Error, CustomStringConvertible {
    enum Code: Sendable { case notFound, unreadable, corrupt }
    let code: Code
    let path: String
    let detail: String

    var description: String {
        switch code {
        case .notFound: return "cannot open \(path): \(detail). Check the path and that the file exists."
        case .unreadable: return "cannot read \(path): \(detail). Check the file's permissions."
        case .corrupt: return "\(path) is damaged: \(detail). Re-export or re-download the file."
        }
    }
}

/// Streams a text file line by line, gunzipping on the fly when it is gzip (zlib reads plain files
/// unchanged), so memory stays bounded by one buffer and one line whatever the file size.
final class LineReader {
    /// Lines longer than this are reported as too long (and truncated) rather than buffered whole.
    let maxLineLength: Int
    let path: String
    private let file: gzFile
    private var buffer: [UInt8]
    private var line: [UInt8] = []

    /// Size of the file on disk, for progress (compressed bytes for a .gz file).
    let fileSize: Int64

    init(path: String, maxLineLength: Int = 65_536) throws(InputError) {
        self.path = path
        self.maxLineLength = maxLineLength
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw InputError(code: errno == EACCES ? .unreadable : .notFound, path: path, detail: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw InputError(code: .unreadable, path: path, detail: "not a regular file")
        }
        guard let handle = gzopen(path, "rb") else {
            throw InputError(code: .unreadable, path: path, detail: String(cString: strerror(errno)))
        }
        gzbuffer(handle, 1 << 17)
        self.file = handle
        self.fileSize = Int64(info.st_size)
        self.buffer = [UInt8](repeating: 0, count: 1 << 17)
        line.reserveCapacity(min(maxLineLength, 4096))
    }

    deinit { gzclose(file) }

    /// Bytes of the file consumed so far (compressed offset for .gz), for progress bars.
    var bytesConsumed: Int64 { Int64(gzoffset(file)) }

    /// Calls `body` for every line, numbered from 1, without its line terminator (LF or CRLF).
    /// `truncated` is true when the line was longer than `maxLineLength`; `bytes` then holds
    /// only its first `maxLineLength` bytes.
    func forEachLine(
        _ body: (_ number: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ truncated: Bool) throws -> Void
    ) throws {
        var number = 0
        var truncated = false
        func finishLine() throws {
            number += 1
            if !truncated && line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.count > maxLineLength {
                truncated = true
                line.removeLast(line.count - maxLineLength)
            }
            try line.withUnsafeBufferPointer { try body(number, $0, truncated) }
            line.removeAll(keepingCapacity: true)
            truncated = false
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 { throw corruption() }
            if count == 0 { break }
            try buffer.withUnsafeBufferPointer { chunk in
                let end = Int(count)
                var start = 0
                while start < end {
                    var newline = start
                    while newline < end && chunk[newline] != UInt8(ascii: "\n") { newline &+= 1 }
                    // Keep one byte past the limit so a CR ending a full-length line is not mistaken
                    // for an overflow.
                    let take = min(newline - start, max(0, maxLineLength + 1 - line.count))
                    line.append(contentsOf: chunk[start..<(start + take)])
                    if newline - start > take { truncated = true }
                    if newline < end { try finishLine() }
                    start = newline + 1
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
