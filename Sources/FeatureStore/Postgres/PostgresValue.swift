/// A value bound to a statement or read from a result, in PostgreSQL's binary format.
/// Timestamps are microseconds since the Unix epoch (UTC); dates are days since it.
public enum PostgresValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int16(Int16)
    case int32(Int32)
    case int64(Int64)
    case float4(Float)
    case float8(Double)
    case text(String)
    case bytea([UInt8])
    case timestamptz(Int64)
    case date(Int32)
    case jsonb(String)
    /// A value of a type without a decoder here: its type oid and raw binary bytes.
    case raw(oid: UInt32, bytes: [UInt8])

    /// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
    static let postgresEpochMicros: Int64 = 946_684_800_000_000
    /// Days between the Unix epoch and PostgreSQL's epoch.
    static let postgresEpochDays: Int32 = 10_957

    /// The type oid sent with a parameter; 0 lets the server infer it.
    var typeOID: UInt32 {
        switch self {
        case .null: return 0
        case .bool: return 16
        case .int16: return 21
        case .int32: return 23
        case .int64: return 20
        case .float4: return 700
        case .float8: return 701
        case .text: return 25
        case .bytea: return 17
        case .timestamptz: return 1184
        case .date: return 1082
        case .jsonb: return 3802
        case .raw(let oid, _): return oid
        }
    }

    /// Appends the binary representation (without a length word); false for NULL.
    func appendBinary(to out: inout [UInt8]) -> Bool {
        switch self {
        case .null: return false
        case .bool(let v): out.append(v ? 1 : 0)
        case .int16(let v): out.appendBigEndian(v)
        case .int32(let v): out.appendBigEndian(v)
        case .int64(let v): out.appendBigEndian(v)
        case .float4(let v): out.appendBigEndian(v.bitPattern)
        case .float8(let v): out.appendBigEndian(v.bitPattern)
        case .text(let s): out.append(contentsOf: s.utf8)
        case .bytea(let b): out.append(contentsOf: b)
        case .timestamptz(let micros): out.appendBigEndian(micros &- Self.postgresEpochMicros)
        case .date(let days): out.appendBigEndian(days &- Self.postgresEpochDays)
        case .jsonb(let s):
            out.append(1)
            out.append(contentsOf: s.utf8)
        case .raw(_, let b): out.append(contentsOf: b)
        }
        return true
    }

    /// Decodes one binary field of the given type oid.
    static func decode(oid: UInt32, bytes: UnsafeRawBufferPointer) throws(FeatureStoreError) -> PostgresValue {
        func need(_ n: Int) throws(FeatureStoreError) {
            guard bytes.count == n else {
                throw FeatureStoreError(.decodingFailed, "field of type oid \(oid) has \(bytes.count) bytes, expected \(n)")
            }
        }
        switch oid {
        case 16:
            try need(1)
            return .bool(bytes[0] != 0)
        case 21:
            try need(2)
            return .int16(Int16(bitPattern: bytes.readBigEndian(UInt16.self, at: 0)))
        case 23:
            try need(4)
            return .int32(Int32(bitPattern: bytes.readBigEndian(UInt32.self, at: 0)))
        case 26:
            try need(4)
            return .int64(Int64(bytes.readBigEndian(UInt32.self, at: 0)))
        case 20:
            try need(8)
            return .int64(Int64(bitPattern: bytes.readBigEndian(UInt64.self, at: 0)))
        case 700:
            try need(4)
            return .float4(Float(bitPattern: bytes.readBigEndian(UInt32.self, at: 0)))
        case 701:
            try need(8)
            return .float8(Double(bitPattern: bytes.readBigEndian(UInt64.self, at: 0)))
        case 25, 1043, 1042, 19, 114, 705:
            return .text(String(decoding: bytes, as: UTF8.self))
        case 17:
            return .bytea(Array(bytes))
        case 1184, 1114:
            try need(8)
            return .timestamptz(Int64(bitPattern: bytes.readBigEndian(UInt64.self, at: 0)) &+ postgresEpochMicros)
        case 1082:
            try need(4)
            return .date(Int32(bitPattern: bytes.readBigEndian(UInt32.self, at: 0)) &+ postgresEpochDays)
        case 3802:
            guard bytes.count >= 1 else { return .jsonb("") }
            return .jsonb(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[1...]), as: UTF8.self))
        default:
            return .raw(oid: oid, bytes: Array(bytes))
        }
    }
}

extension PostgresValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral
{
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .float8(value) }
}

extension PostgresValue {
    /// Convenience constructors for the common Swift types.
    public static func int(_ v: Int) -> PostgresValue { .int64(Int64(v)) }
    public static func optionalText(_ v: String?) -> PostgresValue { v.map { .text($0) } ?? .null }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var int64Value: Int64? {
        switch self {
        case .int16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .int64(let v): return v
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float4(let v): return Double(v)
        case .float8(let v): return v
        case .int16, .int32, .int64: return int64Value.map(Double.init)
        default: return nil
        }
    }
    public var stringValue: String? {
        switch self {
        case .text(let s), .jsonb(let s): return s
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var bytesValue: [UInt8]? { if case .bytea(let b) = self { return b } else { return nil } }
    public var timestampMicros: Int64? { if case .timestamptz(let t) = self { return t } else { return nil } }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func readBigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
