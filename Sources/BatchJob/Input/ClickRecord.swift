/// One click as read from a log: external ids kept as the text they came as, time in
/// microseconds since the Unix epoch (UTC).
struct ClickRecord: Sendable, Equatable {
    var sessionID: String
    var itemID: String
    var timeMicros: Int64
}

/// Why one row of a click log was set aside for the quarantine table.
struct RowProblem: Error, Sendable, Equatable {
    enum Kind: String, Sendable {
        case missingField = "missing field"
        case nonNumericID = "non-numeric id"
        case badTimestamp = "unparseable timestamp"
        case futureTimestamp = "timestamp in the future"
        case earlyTimestamp = "timestamp before the earliest accepted"
        case extraField = "extra fields"
        case invalidUTF8 = "invalid UTF-8"
        case lineTooLong = "line too long"
    }
    let kind: Kind
    let detail: String

    /// The reason as stored in quarantine: the kind, then what was found.
    var reason: String { detail.isEmpty ? kind.rawValue : "\(kind.rawValue): \(detail)" }
}

/// Splits one line into fields on a one-byte separator; a field wrapped in double quotes may hold
/// the separator, and `""` inside it stands for one quote.
struct FieldSplitter {
    let separator: UInt8

    /// The line's fields as strings, or a problem if the bytes are not UTF-8.
    func split(_ line: UnsafeBufferPointer<UInt8>) -> Result<[String], RowProblem> {
        var fields: [String] = []
        var index = 0
        let quote = UInt8(ascii: "\"")
        while true {
            var field: [UInt8] = []
            if index < line.count && line[index] == quote {
                index += 1
                while index < line.count {
                    if line[index] == quote {
                        if index + 1 < line.count && line[index + 1] == quote {
                            field.append(quote)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    field.append(line[index])
                    index += 1
                }
                while index < line.count && line[index] != separator { field.append(line[index]); index += 1 }
            } else {
                let start = index
                while index < line.count && line[index] != separator { index += 1 }
                field.append(contentsOf: line[start..<index])
            }
            guard let text = String(validating: field, as: UTF8.self) else {
                return .failure(RowProblem(kind: .invalidUTF8, detail: "field \(fields.count + 1)"))
            }
            fields.append(text)
            if index >= line.count { break }
            index += 1  // the separator
        }
        return .success(fields)
    }
}

/// The project's generic click-log CSV: `session_id,item_id,timestamp` with an optional header,
/// ISO 8601 timestamps (UTC unless an offset is given).
enum GenericClickCSV {
    static let header = "session_id,item_id,timestamp"

    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Result<ClickRecord, RowProblem> {
        let fields: [String]
        switch FieldSplitter(separator: UInt8(ascii: ",")).split(line) {
        case .success(let split): fields = split
        case .failure(let problem): return .failure(problem)
        }
        guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty, !fields[2].isEmpty else {
            return .failure(RowProblem(kind: .missingField, detail: "expected \(header), got \(fields.count) field(s)"))
        }
        guard fields.count == 3 else {
            return .failure(RowProblem(kind: .extraField, detail: "\(fields.count) fields, expected 3 (\(header))"))
        }
        var time = fields[2]
        let micros = time.withUTF8 { Timestamp.parseISO8601($0) }
        guard let micros else {
            return .failure(RowProblem(kind: .badTimestamp, detail: String(fields[2].prefix(64))))
        }
        return .success(ClickRecord(sessionID: fields[0], itemID: fields[1], timeMicros: micros))
    }

    /// True for the header line (compared case-insensitively, spaces ignored).
    static func isHeader(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let text = String(decoding: line, as: UTF8.self).lowercased().filter { $0 != " " && $0 != "\"" }
        return text == header
    }
}
