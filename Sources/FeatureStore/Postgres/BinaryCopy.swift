/// Writes rows in PostgreSQL's binary COPY format and sends them in pieces of about
/// `flushThreshold` bytes, so memory stays bounded whatever the row count. Fields are stored
/// straight into one buffer it owns (no per-field array growth): encoding is a small share of
/// a COPY's cost, not a second server's worth of CPU.
public struct BinaryCopyWriter: ~Copyable {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    /// Bytes buffered before a send. Default 1 MiB.
    public let flushThreshold: Int
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    let send: (UnsafeRawBufferPointer) throws -> Void
    /// Rows written so far.
    public private(set) var rowCount = 0
    /// The most bytes ever buffered at once (for tests of bounded memory).
    public private(set) var peakBufferedBytes = 0

    /// A writer that hands each filled buffer to `send` (a file, or the server via `copyIn`);
    /// the bytes are valid only during the call.
    public init(flushThreshold: Int = 1 << 20, send: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.flushThreshold = flushThreshold
        self.send = send
        capacity = flushThreshold + 4096
        storage = .allocate(byteCount: capacity, alignment: 16)
        append(bytes: Self.signature)
        putBigEndian(Int32(0))  // flags
        putBigEndian(Int32(0))  // header extension length
    }

    deinit { storage.deallocate() }

    /// Starts a row of `fieldCount` fields; then append exactly that many fields.
    public mutating func beginRow(fieldCount: Int) throws {
        if used >= flushThreshold { try flush() }
        putBigEndian(Int16(fieldCount))
        rowCount += 1
    }

    public mutating func appendNull() { putBigEndian(Int32(-1)) }

    public mutating func appendInt16(_ value: Int16) {
        putBigEndian(Int32(2))
        putBigEndian(value)
    }

    public mutating func appendInt64(_ value: Int64) {
        putBigEndian(Int32(8))
        putBigEndian(value)
    }

    public mutating func appendInt32(_ value: Int32) {
        putBigEndian(Int32(4))
        putBigEndian(value)
    }

    public mutating func appendDouble(_ value: Double) {
        putBigEndian(Int32(8))
        putBigEndian(value.bitPattern)
    }

    public mutating func appendFloat(_ value: Float) {
        putBigEndian(Int32(4))
        putBigEndian(value.bitPattern)
    }

    public mutating func appendBool(_ value: Bool) {
        putBigEndian(Int32(1))
        putBigEndian(UInt8(value ? 1 : 0))
    }

    /// A date given as days since the Unix epoch.
    public mutating func appendDate(days: Int32) {
        putBigEndian(Int32(4))
        putBigEndian(days &- PostgresValue.postgresEpochDays)
    }

    /// A timestamptz given as microseconds since the Unix epoch.
    public mutating func appendTimestamp(micros: Int64) {
        putBigEndian(Int32(8))
        putBigEndian(micros &- PostgresValue.postgresEpochMicros)
    }

    /// A text (or bytea) field from raw bytes; text must be valid UTF-8.
    public mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
        putBigEndian(Int32(bytes.count))
        append(bytes: UnsafeRawBufferPointer(bytes))
    }

    public mutating func appendText(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { appendBytes($0) }
        if done == nil { Array(text.utf8).withUnsafeBufferPointer { appendBytes($0) } }
    }

    public mutating func append(_ value: PostgresValue) {
        switch value {
        case .null: appendNull()
        case .bool(let v): appendBool(v)
        case .int16(let v): appendInt16(v)
        case .int32(let v): appendInt32(v)
        case .int64(let v): appendInt64(v)
        case .float4(let v): appendFloat(v)
        case .float8(let v): appendDouble(v)
        case .date(let days): appendDate(days: days)
        case .timestamptz(let micros): appendTimestamp(micros: micros)
        case .text(let s): appendText(s)
        default:
            var bytes: [UInt8] = []
            _ = value.appendBinary(to: &bytes)
            bytes.withUnsafeBufferPointer { appendBytes($0) }
        }
    }

    mutating func flush() throws {
        peakBufferedBytes = max(peakBufferedBytes, used)
        guard used > 0 else { return }
        try send(UnsafeRawBufferPointer(start: storage, count: used))
        used = 0
    }

    /// Appends the trailer and sends what is left.
    public mutating func finish() throws {
        putBigEndian(Int16(-1))
        try flush()
    }

    @inline(__always)
    private mutating func putBigEndian<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        if used + size > capacity { grow(to: used + size) }
        storage.storeBytes(of: value.bigEndian, toByteOffset: used, as: T.self)
        used += size
    }

    private mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count > capacity { grow(to: used + bytes.count) }
        (storage + used).copyMemory(from: base, byteCount: bytes.count)
        used += bytes.count
    }

    private mutating func append(bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(bytes: $0) }
    }

    /// A field larger than what is left (a large bytea) grows the buffer; it never shrinks.
    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        bigger.copyMemory(from: storage, byteCount: used)
        storage.deallocate()
        storage = bigger
        capacity = newCapacity
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
