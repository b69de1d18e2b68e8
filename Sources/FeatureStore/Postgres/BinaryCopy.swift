/// Writes rows in PostgreSQL's binary COPY format and sends them in pieces of about
/// `flushThreshold` bytes, so memory stays bounded whatever the row count.
public struct BinaryCopyWriter: ~Copyable {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    /// Bytes buffered before a send. Default 1 MiB.
    public let flushThreshold: Int
    var buffer: [UInt8] = []
    let send: ([UInt8]) throws -> Void
    /// Rows written so far.
    public private(set) var rowCount = 0
    /// The most bytes ever buffered at once (for tests of bounded memory).
    public private(set) var peakBufferedBytes = 0

    /// A writer that hands each filled buffer to `send` (a file, or the server via `copyIn`).
    public init(flushThreshold: Int = 1 << 20, send: @escaping ([UInt8]) throws -> Void) {
        self.flushThreshold = flushThreshold
        self.send = send
        buffer.reserveCapacity(flushThreshold + 4096)
        buffer.append(contentsOf: Self.signature)
        buffer.appendBigEndian(Int32(0))  // flags
        buffer.appendBigEndian(Int32(0))  // header extension length
    }

    /// Starts a row of `fieldCount` fields; then append exactly that many fields.
    public mutating func beginRow(fieldCount: Int) throws {
        if buffer.count >= flushThreshold { try flush() }
        buffer.appendBigEndian(Int16(fieldCount))
        rowCount += 1
    }

    public mutating func appendNull() { buffer.appendBigEndian(Int32(-1)) }

    public mutating func appendInt64(_ value: Int64) {
        buffer.appendBigEndian(Int32(8))
        buffer.appendBigEndian(value)
    }

    public mutating func appendInt32(_ value: Int32) {
        buffer.appendBigEndian(Int32(4))
        buffer.appendBigEndian(value)
    }

    public mutating func appendDouble(_ value: Double) {
        buffer.appendBigEndian(Int32(8))
        buffer.appendBigEndian(value.bitPattern)
    }

    public mutating func appendFloat(_ value: Float) {
        buffer.appendBigEndian(Int32(4))
        buffer.appendBigEndian(value.bitPattern)
    }

    /// A timestamptz given as microseconds since the Unix epoch.
    public mutating func appendTimestamp(micros: Int64) {
        buffer.appendBigEndian(Int32(8))
        buffer.appendBigEndian(micros &- PostgresValue.postgresEpochMicros)
    }

    /// A text (or bytea) field from raw bytes; text must be valid UTF-8.
    public mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
        buffer.appendBigEndian(Int32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    public mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { appendBytes($0) }
    }

    public mutating func append(_ value: PostgresValue) {
        let lengthAt = buffer.count
        buffer.appendBigEndian(Int32(0))
        let start = buffer.count
        if value.appendBinary(to: &buffer) {
            let length = Int32(buffer.count - start).bigEndian
            withUnsafeBytes(of: length) { bytes in
                for i in 0..<4 { buffer[lengthAt + i] = bytes[i] }
            }
        } else {
            buffer.removeLast(4)
            appendNull()
        }
    }

    mutating func flush() throws {
        peakBufferedBytes = max(peakBufferedBytes, buffer.count)
        guard !buffer.isEmpty else { return }
        try send(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Appends the trailer and sends what is left.
    public mutating func finish() throws {
        buffer.appendBigEndian(Int16(-1))
        try flush()
    }
}

/// One row of a binary COPY stream; valid only inside the callback that receives it.
public struct BinaryCopyRow {
    let base: UnsafeRawPointer
    var fields: [(offset: Int, length: Int)] = []

    public var count: Int { fields.count }
    public func isNull(_ index: Int) -> Bool { fields[index].length < 0 }

    public func bytes(_ index: Int) -> UnsafeRawBufferPointer? {
        let field = fields[index]
        return field.length < 0 ? nil : UnsafeRawBufferPointer(start: base + field.offset, count: field.length)
    }

    public func text(_ index: Int) -> String? { bytes(index).map { String(decoding: $0, as: UTF8.self) } }

    public func int64(_ index: Int) -> Int64? {
        guard let b = bytes(index) else { return nil }
        switch b.count {
        case 8: return Int64(bitPattern: b.readBigEndian(UInt64.self, at: 0))
        case 4: return Int64(Int32(bitPattern: b.readBigEndian(UInt32.self, at: 0)))
        case 2: return Int64(Int16(bitPattern: b.readBigEndian(UInt16.self, at: 0)))
        default: return nil
        }
    }

    public func double(_ index: Int) -> Double? {
        guard let b = bytes(index) else { return nil }
        switch b.count {
        case 8: return Double(bitPattern: b.readBigEndian(UInt64.self, at: 0))
        case 4: return Double(Float(bitPattern: b.readBigEndian(UInt32.self, at: 0)))
        default: return nil
        }
    }

    /// A timestamptz as microseconds since the Unix epoch.
    public func timestampMicros(_ index: Int) -> Int64? {
        guard let b = bytes(index), b.count == 8 else { return nil }
        return Int64(bitPattern: b.readBigEndian(UInt64.self, at: 0)) &+ PostgresValue.postgresEpochMicros
    }

    /// Decodes a field as a value of the given type oid.
    public func value(_ index: Int, oid: UInt32) throws -> PostgresValue {
        guard let b = bytes(index) else { return .null }
        return try PostgresValue.decode(oid: oid, bytes: b)
    }
}

/// Parses a binary COPY stream that arrives in messages of any size; keeps at most one
/// partial row between messages.
struct BinaryCopyReader {
    private var pending: [UInt8] = []
    private var sawHeader = false
    private(set) var finished = false
    private(set) var rowCount = 0
    /// The most bytes ever held between messages (for tests of bounded memory).
    private(set) var peakPendingBytes = 0
    private var row = BinaryCopyRow(base: UnsafeRawPointer(bitPattern: 1)!)

    mutating func consume(_ message: UnsafeRawBufferPointer, _ body: (BinaryCopyRow) throws -> Void) throws {
        if pending.isEmpty {
            let used = try parse(message, body)
            if used < message.count { pending.append(contentsOf: message[used...]) }
        } else {
            pending.append(contentsOf: message)
            let data = pending
            let used = try data.withUnsafeBytes { try parse($0, body) }
            pending.removeFirst(used)
        }
        peakPendingBytes = max(peakPendingBytes, pending.count)
    }

    /// Parses whole rows from `data`; returns the bytes used.
    private mutating func parse(_ data: UnsafeRawBufferPointer, _ body: (BinaryCopyRow) throws -> Void) throws -> Int {
        var position = 0
        if !sawHeader {
            guard data.count >= 19 else { return 0 }
            guard Array(data[0..<11]) == BinaryCopyWriter.signature else {
                throw FeatureStoreError(.copyFailed, "COPY data does not start with the binary COPY signature")
            }
            let extensionLength = Int(data.readBigEndian(UInt32.self, at: 15))
            guard data.count >= 19 + extensionLength else { return 0 }
            position = 19 + extensionLength
            sawHeader = true
        }
        while !finished && data.count - position >= 2 {
            let fieldCount = Int(Int16(bitPattern: data.readBigEndian(UInt16.self, at: position)))
            if fieldCount == -1 {
                finished = true
                return data.count
            }
            var cursor = position + 2
            row.fields.removeAll(keepingCapacity: true)
            var complete = true
            for _ in 0..<fieldCount {
                guard data.count - cursor >= 4 else { complete = false; break }
                let length = Int(Int32(bitPattern: data.readBigEndian(UInt32.self, at: cursor)))
                cursor += 4
                if length < 0 {
                    row.fields.append((cursor, -1))
                    continue
                }
                guard data.count - cursor >= length else { complete = false; break }
                row.fields.append((cursor, length))
                cursor += length
            }
            guard complete else { break }
            row = BinaryCopyRow(base: data.baseAddress!, fields: row.fields)
            try body(row)
            rowCount += 1
            position = cursor
        }
        return position
    }
}
