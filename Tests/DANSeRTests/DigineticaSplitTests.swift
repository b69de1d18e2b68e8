import Foundation
import Testing
@testable import DANSeR

/// The canonical Diginetica split from the shared benchmark file. Needs ../shared/data (CI has
/// it); skipped on a machine without it.
@Suite struct DigineticaSplitTests {
    static let file: URL? = {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("../shared/data/diginetica/clicks.csv.gz").standardized
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return nil
    }()

    /// `gzip -dc` keeps the test free of a gzip reader (DANSeR does no file I/O).
    static func clicks(_ file: URL) throws -> [Click<Int64, Int64>] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var clicks: [Click<Int64, Int64>] = []
        clicks.reserveCapacity(1_000_000)
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var fields: [Int64] = []
            var value: Int64 = 0
            var header = true
            var time: [Int] = []
            var number = 0
            var inNumber = false
            // session,item,YYYY-MM-DDThh:mm:ssZ per line, parsed by hand for speed in debug builds.
            for byte in raw {
                if header {
                    if byte == UInt8(ascii: "\n") { header = false }
                    continue
                }
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if fields.count < 2 {
                        value = value * 10 + Int64(byte - 48)
                    } else {
                        number = number * 10 + Int(byte - 48)
                        inNumber = true
                    }
                case UInt8(ascii: ","):
                    fields.append(value)
                    value = 0
                case UInt8(ascii: "\n"):
                    if inNumber { time.append(number) }
                    let days = Self.days(year: time[0], month: time[1], day: time[2])
                    let seconds = Int64(days) * 86_400 + Int64(time[3] * 3600 + time[4] * 60 + time[5])
                    clicks.append(Click(session: fields[0], item: fields[1], time: seconds * 1_000_000))
                    fields.removeAll(keepingCapacity: true)
                    time.removeAll(keepingCapacity: true)
                    number = 0
                    inNumber = false
                default:
                    if inNumber { time.append(number) }
                    number = 0
                    inNumber = false
                }
            }
        }
        return clicks
    }

    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    @Test(.enabled(if: file != nil, "needs ../shared/data/diginetica/clicks.csv.gz"))
    func canonicalPrefixCounts() throws {
        let clicks = try Self.clicks(Self.file!)
        #expect(clicks.count == 982_961)
        let testFrom = Int64(Self.days(year: 2016, month: 5, day: 25)) * 86_400 * 1_000_000
        // The file is already the output of the standard filters, which are not idempotent:
        // the canonical split comes without a second rare-item pass.
        let split = try SessionSplit(clicks: clicks, testFrom: testFrom, minItemClicks: 1)
        #expect(PrefixSet(sessions: split.training).count == 719_470)
        #expect(PrefixSet(sessions: split.test).count == 60_858)
        #expect(split.itemCount == 43_097)
        #expect(split.training.count == 186_670 && split.test.count == 15_963)
        // A second pass of the standard 5-click filter removes what the first pass left behind.
        let refiltered = try SessionSplit(clicks: clicks, testFrom: testFrom)
        #expect(refiltered.report.rareItemClicks == 4_228)
        #expect(refiltered.itemCount < 43_097)
    }
}
