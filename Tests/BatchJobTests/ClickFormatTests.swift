import Testing

@testable import BatchJob

@Suite struct ClickFormatTests {
    func withLine<T>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        Array(text.utf8).withUnsafeBufferPointer(body)
    }

    @Test(arguments: [
        ("session_id,item_id,timestamp", ClickFormat.genericCSV),
        ("session_id;user_id;item_id;timeframe;eventdate", .diginetica),
        ("sessionId;userId;itemId;timeframe;eventdate", .diginetica),
        ("SessionId\tItemId\tTime", .yoochooseTSV),
        ("timestamp\tuser_id\titem_id\tsession_id", .retailrocket),
        ("1,2014-04-07T10:51:09.277Z,214536502,0", .yoochoose),
        ("7,42,2016-01-01T00:00:00Z", .genericCSV),
        ("1\t214536502\t1396860669.277", .yoochooseTSV),
        ("1442004589\t0\t285930\t0", .retailrocket),
        ("1;NA;81766;526309;2016-05-09", .diginetica),
    ])
    func detectsTheFormatFromTheFirstLine(line: String, format: ClickFormat) {
        #expect(withLine(line) { ClickFormat.detect(firstLine: $0) } == format)
    }

    @Test func unknownFirstLineIsNotGuessed() {
        #expect(withLine("hello world") { ClickFormat.detect(firstLine: $0) } == nil)
    }

    func parse(_ format: ClickFormat, _ line: String, truncated: Bool = false) -> (String, String, Int64)? {
        withLine(line) { bytes in
            guard case .ok(let session, let item, let micros) = format.parse(bytes, truncated: truncated, latestAllowed: 4_000_000_000_000_000) else { return nil }
            func text(_ id: ClickID) -> String {
                switch id {
                case .range(let r): return String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
                case .text(let t): return t
                }
            }
            return (text(session), text(item), micros)
        }
    }

    func problem(_ format: ClickFormat, _ line: String, truncated: Bool = false) -> RowProblem.Kind? {
        withLine(line) { bytes in
            if case .problem(let p) = format.parse(bytes, truncated: truncated, latestAllowed: 1_800_000_000_000_000) { return p.kind }
            return nil
        }
    }

    @Test func parsesEachFormatsTimeAndIds() throws {
        #expect(parse(.diginetica, "1;NA;81766;526309;2016-05-09")! == ("1", "81766", 1_462_752_000_000_000 + 526_309_000))
        #expect(parse(.yoochoose, "1,2014-04-07T10:51:09.277Z,214536502,0")! == ("1", "214536502", 1_396_867_869_277_000))
        #expect(parse(.yoochooseTSV, "3\t214716935\t1396437466.94")! == ("3", "214716935", 1_396_437_466_940_000))
        #expect(parse(.retailrocket, "1442004589\t0\t285930\t7")! == ("7", "285930", 1_442_004_589_000_000))
        #expect(parse(.retailrocket, "1433221332117\t257597\t355908\t9")! == ("9", "355908", 1_433_221_332_117_000))
        #expect(parse(.genericCSV, "abc,x-1,2016-01-01T00:00:00Z")! == ("abc", "x-1", 1_451_606_400_000_000))
        #expect(parse(.genericCSV, "\"a,b\",\"x\",2016-01-01T00:00:00Z")! == ("a,b", "x", 1_451_606_400_000_000))
    }

    @Test func namesEveryKindOfBadRow() {
        #expect(problem(.genericCSV, "a,b") == .missingField)
        #expect(problem(.genericCSV, "") == .missingField)
        #expect(problem(.genericCSV, ",b,2016-01-01") == .missingField)
        #expect(problem(.yoochooseTSV, "x1\t2\t1396437466") == .nonNumericID)
        #expect(problem(.diginetica, "1;NA;8x;526309;2016-05-09") == .nonNumericID)
        #expect(problem(.genericCSV, "a,b,2016-02-30") == .badTimestamp)
        #expect(problem(.diginetica, "1;NA;2;soon;2016-05-09") == .badTimestamp)
        #expect(problem(.genericCSV, "a,b,2030-01-01T00:00:00Z") == .futureTimestamp)
        #expect(problem(.genericCSV, "a,b,2016-01-01", truncated: true) == .lineTooLong)
        #expect(problem(.genericCSV, "a\u{0}b,c,2016-01-01") == .invalidUTF8)
        let invalid: [UInt8] = [0xFF, 0x2C, 0x62, 0x2C] + Array("2016-01-01".utf8)
        let kind: RowProblem.Kind? = invalid.withUnsafeBufferPointer { bytes in
            if case .problem(let p) = ClickFormat.genericCSV.parse(bytes, truncated: false, latestAllowed: .max) { return p.kind }
            return nil
        }
        #expect(kind == .invalidUTF8)
    }
}
