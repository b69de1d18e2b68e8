import Foundation

/// The file formats `features export` writes: CSV (RFC 4180 quoting, floats in their shortest
/// round-trip form) and NumPy's `.npy` (format 1.0, one structured record per item, so
/// `numpy.load` reads the item ids and the numbers without pickle).
enum FeatureFileFormat: String, CaseIterable, Sendable {
    case csv, npy
}

/// One column of an export: a text column (the item id) or a fixed-width number column.
enum FeatureColumn: Sendable {
    case text(String)
    case int32(String)
    case int64(String)
    /// `count` float32 values: one .npy field `name` of that shape (a scalar when `count` is 1);
    /// CSV columns `csvPrefix0`, `csvPrefix1`, ... (just `name` when `count` is 1).
    case float32(String, count: Int, csvPrefix: String = "")

    var name: String {
        switch self {
        case .text(let name), .int32(let name), .int64(let name), .float32(let name, _, _): return name
        }
    }
}

/// One value of a row, in column order.
enum FeatureValue {
    case text(String)
    case int32(Int32)
    case int64(Int64)
    case float32(ArraySlice<Float>)
}

/// Encodes rows of `columns` into bytes, streaming: `header` first, then `row` per row.
struct FeatureFileEncoder {
    let format: FeatureFileFormat
    let columns: [FeatureColumn]
    let rowCount: Int
    /// Longest text value in Unicode scalars: the width of an .npy text field (at least 1).
    let textWidth: Int

    init(format: FeatureFileFormat, columns: [FeatureColumn], rowCount: Int, longestText: Int) {
        self.format = format
        self.columns = columns
        self.rowCount = rowCount
        self.textWidth = max(1, longestText)
    }

    func header() -> [UInt8] {
        switch format {
        case .csv:
            let names = columns.flatMap { column -> [String] in
                if case .float32(_, let count, let prefix) = column, count != 1 { return (0..<count).map { "\(prefix)\($0)" } }
                return [column.name]
            }
            return Array((names.map(Self.csvField).joined(separator: ",") + "\n").utf8)
        case .npy:
            return Self.npyHeader(descr: npyDescr, shape: rowCount)
        }
    }

    /// Appends one row; `values` follow `columns`.
    func append(_ values: [FeatureValue], to out: inout [UInt8]) {
        switch format {
        case .csv:
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                switch value {
                case .text(let text): out.append(contentsOf: Self.csvField(text).utf8)
                case .int32(let number): out.append(contentsOf: String(number).utf8)
                case .int64(let number): out.append(contentsOf: String(number).utf8)
                case .float32(let numbers):
                    var first = true
                    for number in numbers {
                        if !first { out.append(UInt8(ascii: ",")) }
                        first = false
                        out.append(contentsOf: number.description.utf8)
                    }
                }
            }
            out.append(UInt8(ascii: "\n"))
        case .npy:
            for value in values {
                switch value {
                case .text(let text):
                    // UCS-4, little-endian, zero-padded to the field's width.
                    var written = 0
                    for scalar in text.unicodeScalars.prefix(textWidth) {
                        out.appendLittleEndian(scalar.value)
                        written += 1
                    }
                    out.append(contentsOf: repeatElement(0, count: 4 * (textWidth - written)))
                case .int32(let number): out.appendLittleEndian(number)
                case .int64(let number): out.appendLittleEndian(number)
                case .float32(let numbers): for number in numbers { out.appendLittleEndian(number.bitPattern) }
                }
            }
        }
    }

    /// NumPy's description of one record, e.g. `[('item_id', '<U8'), ('vector', '<f4', (100,))]`.
    var npyDescr: String {
        let fields = columns.map { column -> String in
            switch column {
            case .text(let name): return "('\(name)', '<U\(textWidth)')"
            case .int32(let name): return "('\(name)', '<i4')"
            case .int64(let name): return "('\(name)', '<i8')"
            case .float32(let name, let count, _): return count == 1 ? "('\(name)', '<f4')" : "('\(name)', '<f4', (\(count),))"
            }
        }
        return "[" + fields.joined(separator: ", ") + "]"
    }

    /// The .npy 1.0 preamble: magic, version, header length, and a Python dict literal padded with
    /// spaces and a newline so the data starts on a 64-byte boundary.
    static func npyHeader(descr: String, shape: Int) -> [UInt8] {
        var dictionary = "{'descr': \(descr), 'fortran_order': False, 'shape': (\(shape),), }"
        let preamble = 10  // magic (6) + version (2) + header length (2)
        let unpadded = preamble + dictionary.utf8.count + 1
        dictionary += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes.appendLittleEndian(UInt16(dictionary.utf8.count))
        bytes.append(contentsOf: dictionary.utf8)
        return bytes
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
