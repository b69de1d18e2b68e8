/// Text timestamps of click logs to microseconds since the Unix epoch (UTC), without Foundation's
/// date formatters, which are far too slow for a million rows.
enum Timestamp {
    /// `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss` (or a space for `T`), optional `.fraction`,
    /// optional `Z` or `±hh:mm` / `±hhmm`. Returns nil for anything else or an impossible date.
    static func parseISO8601(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var cursor = Cursor(text)
        guard let year = cursor.digits(4), cursor.take(UInt8(ascii: "-")),
            let month = cursor.digits(2), cursor.take(UInt8(ascii: "-")),
            let day = cursor.digits(2),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        var seconds = daysFromCivil(year: year, month: month, day: day) * 86_400
        var micros: Int64 = 0
        if cursor.atEnd { return seconds * 1_000_000 }
        guard cursor.take(UInt8(ascii: "T")) || cursor.take(UInt8(ascii: " ")),
            let hour = cursor.digits(2), cursor.take(UInt8(ascii: ":")),
            let minute = cursor.digits(2), cursor.take(UInt8(ascii: ":")),
            let second = cursor.digits(2),
            hour < 24, minute < 60, second < 61
        else { return nil }
        seconds += Int64(hour * 3600 + minute * 60 + second)
        if cursor.take(UInt8(ascii: ".")) {
            guard let fraction = cursor.fractionMicros() else { return nil }
            micros = fraction
        }
        if cursor.take(UInt8(ascii: "Z")) {
        } else if let sign = cursor.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            cursor.advance()
            guard let offsetHours = cursor.digits(2) else { return nil }
            _ = cursor.take(UInt8(ascii: ":"))
            guard let offsetMinutes = cursor.digits(2), offsetHours < 24, offsetMinutes < 60 else { return nil }
            let offset = Int64(offsetHours * 3600 + offsetMinutes * 60)
            seconds += sign == UInt8(ascii: "+") ? -offset : offset
        }
        guard cursor.atEnd else { return nil }
        return seconds * 1_000_000 + micros
    }

    /// Unix seconds with an optional fraction, e.g. `1396860669.277`.
    static func parseUnixSeconds(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var cursor = Cursor(text)
        var seconds: Int64 = 0
        var digits = 0
        while let byte = cursor.peek, byte >= 48, byte <= 57, digits < 12 {
            seconds = seconds * 10 + Int64(byte - 48)
            digits += 1
            cursor.advance()
        }
        guard digits > 0 else { return nil }
        var micros: Int64 = 0
        if cursor.take(UInt8(ascii: ".")) {
            guard let fraction = cursor.fractionMicros() else { return nil }
            micros = fraction
        }
        guard cursor.atEnd else { return nil }
        return seconds * 1_000_000 + micros
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// `2016-05-25T00:00:00Z` style text for messages and logs.
    static func format(micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// A forward-only reader over the bytes of one field.
private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// Exactly `count` decimal digits.
    mutating func digits(_ count: Int) -> Int? {
        guard index + count <= bytes.count else { return nil }
        var value = 0
        for offset in 0..<count {
            let byte = bytes[index + offset]
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        index += count
        return value
    }

    /// One or more digits after a decimal point, as microseconds (digits past the sixth are dropped).
    mutating func fractionMicros() -> Int64? {
        var value: Int64 = 0
        var count = 0
        while let byte = peek, byte >= 48, byte <= 57 {
            if count < 6 { value = value * 10 + Int64(byte - 48) }
            count += 1
            advance()
        }
        guard count > 0 else { return nil }
        for _ in count..<max(count, 6) { value *= 10 }
        return value
    }
}
