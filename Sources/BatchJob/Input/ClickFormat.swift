import ArgumentParser

/// The click-log layouts `import` reads. Ids are kept as the text they came as; the raw formats
/// (all but generic-csv) require numeric ids.
enum ClickFormat: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// `session_id,item_id,timestamp` with ISO 8601 times (the project's own CSV).
    case genericCSV = "generic-csv"
    /// CIKM Cup 2016 raw views: `sessionId;userId;itemId;timeframe;eventdate` (timeframe = ms since the session started).
    case diginetica
    /// RecSys Challenge 2015 raw clicks: `SessionID,Timestamp,ItemID,Category`, no header.
    case yoochoose
    /// YOOCHOOSE preprocessed: tab-separated `SessionId ItemId Time` (unix seconds with fraction).
    case yoochooseTSV = "yoochoose-tsv"
    /// RetailRocket events with sessions: tab-separated `timestamp user_id item_id session_id` (unix seconds or ms).
    case retailrocket

    var separator: UInt8 {
        switch self {
        case .genericCSV, .yoochoose: return UInt8(ascii: ",")
        case .diginetica: return UInt8(ascii: ";")
        case .yoochooseTSV, .retailrocket: return UInt8(ascii: "\t")
        }
    }

    /// Field positions: (session, item, fields required).
    var layout: (session: Int, item: Int, required: Int) {
        switch self {
        case .genericCSV: return (0, 1, 3)
        case .diginetica: return (0, 2, 5)
        case .yoochoose: return (0, 2, 3)
        case .yoochooseTSV: return (0, 1, 3)
        case .retailrocket: return (3, 2, 4)
        }
    }

    /// Field counts of a row as the format's files have them.
    var naturalFieldCounts: ClosedRange<Int> {
        switch self {
        case .genericCSV, .yoochooseTSV: return 3...3
        case .yoochoose: return 3...4
        case .retailrocket: return 4...4
        case .diginetica: return 5...5
        }
    }

    var numericIDs: Bool { self != .genericCSV }

    /// Header lines accepted, lowercased with `_` and spaces removed.
    var headers: [[String]] {
        switch self {
        case .genericCSV: return [["sessionid", "itemid", "timestamp"]]
        case .diginetica: return [["sessionid", "userid", "itemid", "timeframe", "eventdate"]]
        case .yoochoose: return [["sessionid", "timestamp", "itemid", "category"], ["sessionid", "timestamp", "itemid"]]
        case .yoochooseTSV: return [["sessionid", "itemid", "time"]]
        case .retailrocket: return [["timestamp", "userid", "itemid", "sessionid"], ["timestamp", "visitorid", "itemid", "sessionid"]]
        }
    }

    func isHeader(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let text = String(decoding: line, as: UTF8.self).lowercased()
        let fields = text.split(separator: Character(Unicode.Scalar(separator)), omittingEmptySubsequences: false).map {
            $0.filter { $0 != "_" && $0 != " " && $0 != "\"" }
        }
        return headers.contains(fields)
    }

    /// The format of a file from its first line: a known header, else the first format that
    /// parses it as a row. Nil when nothing fits.
    static func detect(firstLine: UnsafeBufferPointer<UInt8>) -> ClickFormat? {
        if let format = allCases.first(where: { $0.isHeader(firstLine) }) { return format }
        // Without a header: the format whose field count matches and whose parse gives a
        // plausible time (2000-01-01 or later).
        let year2000: Int64 = 946_684_800_000_000
        return allCases.first { format in
            let fields = firstLine.reduce(1) { $1 == format.separator ? $0 + 1 : $0 }
            guard format.naturalFieldCounts.contains(fields) else { return false }
            if case .ok(_, _, let micros) = format.parse(firstLine, truncated: false, latestAllowed: .max, earliestAllowed: .min) {
                return micros >= year2000
            }
            return false
        }
    }
}

/// One parsed click: ids as byte ranges of the line (or as strings when the line had quotes).
enum ParsedClick {
    case ok(session: ClickID, item: ClickID, micros: Int64)
    case problem(RowProblem)
}

enum ClickID {
    case range(Range<Int>)
    case text(String)
}

extension ClickFormat {
    static let quote = UInt8(ascii: "\"")

    /// 2000-01-01T00:00:00Z in microseconds: the default earliest accepted click time.
    static let defaultEarliestMicros: Int64 = 946_684_800_000_000

    /// Parses one line. `latestAllowed` is the latest acceptable time (later is "in the future");
    /// `earliestAllowed` the earliest (default 2000-01-01: earlier is a broken clock or a bad export).
    func parse(
        _ line: UnsafeBufferPointer<UInt8>, truncated: Bool, latestAllowed: Int64,
        earliestAllowed: Int64 = ClickFormat.defaultEarliestMicros
    ) -> ParsedClick {
        if truncated { return .problem(RowProblem(kind: .lineTooLong, detail: "over \(line.count) bytes")) }
        var nonASCII = false
        var hasQuote = false
        for byte in line {
            if byte >= 0x80 { nonASCII = true }
            if byte == 0 { return .problem(RowProblem(kind: .invalidUTF8, detail: "NUL byte")) }
            if byte == Self.quote { hasQuote = true }
        }
        if nonASCII && String(validating: line, as: UTF8.self) == nil {
            return .problem(RowProblem(kind: .invalidUTF8, detail: ""))
        }
        if hasQuote && self == .genericCSV {
            switch GenericClickCSV.parse(line) {
            case .success(let record):
                if let problem = Self.timeProblem(record.timeMicros, earliest: earliestAllowed, latest: latestAllowed) {
                    return .problem(problem)
                }
                return .ok(session: .text(record.sessionID), item: .text(record.itemID), micros: record.timeMicros)
            case .failure(let problem): return .problem(problem)
            }
        }
        // Field ranges (one small allocation per line; cheap next to the database work).
        var fields: [Range<Int>] = []
        fields.reserveCapacity(6)
        var start = 0
        for index in 0...line.count where index == line.count || line[index] == separator {
            fields.append(start..<index)
            start = index + 1
        }
        let (sessionIndex, itemIndex, required) = layout
        if line.isEmpty { return .problem(RowProblem(kind: .missingField, detail: "empty line")) }
        guard fields.count >= required else {
            return .problem(RowProblem(kind: .missingField, detail: "\(fields.count) of \(required) fields"))
        }
        guard fields.count <= naturalFieldCounts.upperBound else {
            return .problem(RowProblem(kind: .extraField, detail: "\(fields.count) fields, expected \(naturalFieldCounts.upperBound)"))
        }
        let session = fields[sessionIndex], item = fields[itemIndex]
        if session.isEmpty { return .problem(RowProblem(kind: .missingField, detail: "session id empty")) }
        if item.isEmpty { return .problem(RowProblem(kind: .missingField, detail: "item id empty")) }
        if numericIDs {
            for (name, range) in [("session", session), ("item", item)] where !Self.isDigits(line, range) {
                return .problem(RowProblem(kind: .nonNumericID, detail: "\(name) id \(Self.text(line, range))"))
            }
        }
        let micros: Int64?
        let timeText: Range<Int>
        switch self {
        case .genericCSV:
            timeText = fields[2]
            micros = Timestamp.parseISO8601(UnsafeBufferPointer(rebasing: line[timeText]))
        case .yoochoose:
            timeText = fields[1]
            micros = Timestamp.parseISO8601(UnsafeBufferPointer(rebasing: line[timeText]))
        case .yoochooseTSV:
            timeText = fields[2]
            micros = Timestamp.parseUnixSeconds(UnsafeBufferPointer(rebasing: line[timeText]))
        case .retailrocket:
            timeText = fields[0]
            micros = Self.unixSecondsOrMillis(line, timeText)
        case .diginetica:
            timeText = fields[4]
            let day = Timestamp.parseISO8601(UnsafeBufferPointer(rebasing: line[timeText]))
            let frame = fields[3]
            guard Self.isDigits(line, frame), frame.count <= 12 else {
                return .problem(RowProblem(kind: .badTimestamp, detail: "timeframe \(Self.text(line, frame))"))
            }
            micros = day.map { $0 + Self.integer(line, frame) * 1000 }
        }
        guard let micros else {
            return .problem(RowProblem(kind: .badTimestamp, detail: Self.text(line, timeText)))
        }
        if let problem = Self.timeProblem(micros, earliest: earliestAllowed, latest: latestAllowed) { return .problem(problem) }
        return .ok(session: .range(session), item: .range(item), micros: micros)
    }

    /// A time outside [earliest, latest], as the problem to quarantine it with.
    static func timeProblem(_ micros: Int64, earliest: Int64, latest: Int64) -> RowProblem? {
        if micros > latest { return RowProblem(kind: .futureTimestamp, detail: Timestamp.format(micros: micros)) }
        if micros < earliest { return RowProblem(kind: .earlyTimestamp, detail: Timestamp.format(micros: micros)) }
        return nil
    }

    static func isDigits(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty, range.count <= 19 else { return false }
        for index in range where line[index] < 48 || line[index] > 57 { return false }
        return true
    }

    static func integer(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int64 {
        var value: Int64 = 0
        for index in range { value = value &* 10 &+ Int64(line[index] &- 48) }
        return value
    }

    static func text(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(String(decoding: UnsafeBufferPointer(rebasing: line[range]), as: UTF8.self).prefix(64))
    }

    /// RetailRocket's raw files use milliseconds (13 digits); the session form uses seconds.
    static func unixSecondsOrMillis(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int64? {
        if range.count == 13 && isDigits(line, range) { return integer(line, range) * 1000 }
        return Timestamp.parseUnixSeconds(UnsafeBufferPointer(rebasing: line[range]))
    }
}
