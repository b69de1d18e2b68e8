import Foundation
import Testing

@testable import FeatureStore

@Suite struct BinaryCopyTests {
    /// The row the round trip writes for index `i`, computed again when reading it back.
    private func expected(_ i: Int64) -> (id: Int64, session: String, time: Int64, score: Double, flag: Int32?) {
        (i, "session-\(i % 9_973)-é", 1_451_606_400_000_000 + i * 1_000_003, Double(i) * 0.25, i % 7 == 0 ? nil : Int32(i % 1000))
    }

    @Test func millionRowRoundTripStreamsWithBoundedMemory() throws {
        let rowCount: Int64 = 1_000_000
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE rt (id int8, session text, at timestamptz, score float8, flag int4)")
        let stored = try connection.copyIn("COPY rt FROM STDIN (FORMAT binary)") { writer in
            for i in 0..<rowCount {
                let row = expected(i)
                try writer.beginRow(fieldCount: 5)
                writer.appendInt64(row.id)
                writer.appendText(row.session)
                writer.appendTimestamp(micros: row.time)
                writer.appendDouble(row.score)
                if let flag = row.flag { writer.appendInt32(flag) } else { writer.appendNull() }
            }
        }
        #expect(stored == Int(rowCount))
        #expect(connection.lastCopyPeakBufferedBytes <= (1 << 20) + 1024)

        var next: Int64 = 0
        var mismatches = 0
        let read = try connection.copyOut("COPY (SELECT id, session, at, score, flag FROM rt ORDER BY id) TO STDOUT (FORMAT binary)") { row in
            let want = expected(next)
            if row.int64(0) != want.id || row.text(1) != want.session || row.timestampMicros(2) != want.time
                || row.double(3) != want.score || row.int64(4).map(Int32.init) != want.flag
            {
                mismatches += 1
            }
            next += 1
        }
        #expect(read == Int(rowCount))
        #expect(mismatches == 0)
        #expect(connection.lastCopyPeakBufferedBytes < 64 * 1024)
        // The stream is ~45 MB each way; the buffers above stay at 1 MiB and one message. (The
        // process's RSS is not checked here: other suites run in the same process at the same
        // time. scripts/bench-import reports the import's peak RSS.)
        #expect(try connection.query("SELECT count(*) FROM rt WHERE at::date = '2016-01-01'").scalar() != .int64(0))
    }

    @Test func everyValueTypeSurvivesCopy() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE v (b bool, s int2, i int4, l int8, f float4, d float8, t text, y bytea, ts timestamptz, dt date, j jsonb)")
        let values: [PostgresValue] = [
            .bool(false), .int16(3), .int32(-4), .int64(5), .float4(0.5), .float8(1e300), .text("x\ty"), .bytea([9, 0, 8]),
            .timestamptz(-1), .date(0), .jsonb("[1, 2]"),
        ]
        try connection.copyIn("COPY v FROM STDIN (FORMAT binary)") { writer in
            try writer.beginRow(fieldCount: values.count)
            values.forEach { writer.append($0) }
            try writer.beginRow(fieldCount: values.count)
            values.forEach { _ in writer.append(.null) }
        }
        let oids: [UInt32] = [16, 21, 23, 20, 700, 701, 25, 17, 1184, 1082, 3802]
        var rows: [[PostgresValue]] = []
        try connection.copyOut("COPY v TO STDOUT (FORMAT binary)") { row in
            rows.append(try (0..<row.count).map { try row.value($0, oid: oids[$0]) })
        }
        #expect(rows.count == 2)
        #expect(rows.first == values)
        #expect(rows.last == Array(repeating: .null, count: values.count))
    }

    /// Fields far larger than the writer's buffer (a big bytea or text) are sent whole, between
    /// small ones, and the typed helpers write what `append(PostgresValue)` writes.
    @Test func fieldsLargerThanTheBufferAreSentWhole() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE big (n int2, d date, ok bool, y bytea, t text)")
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let text = String(repeating: "ünï-", count: 20_000)
        let stored = try connection.copyIn("COPY big FROM STDIN (FORMAT binary)", flushThreshold: 64) { writer in
            for i in 0..<3 {
                try writer.beginRow(fieldCount: 5)
                writer.appendInt16(Int16(i))
                writer.appendDate(days: 16_801 + Int32(i))
                writer.appendBool(i % 2 == 0)
                payload.withUnsafeBufferPointer { writer.appendBytes($0) }
                writer.appendText(i == 1 ? text : "short")
            }
        }
        #expect(stored == 3)
        let result = try connection.query("SELECT n, d, ok, y, t FROM big ORDER BY n")
        #expect(result.rowCount == 3)
        for row in 0..<3 {
            #expect(try result.value(row, 0) == .int16(Int16(row)))
            #expect(try result.value(row, 1) == .date(16_801 + Int32(row)))
            #expect(try result.value(row, 2) == .bool(row % 2 == 0))
            #expect(try result.value(row, 3) == .bytea(payload))
            #expect(try result.value(row, 4) == .text(row == 1 ? text : "short"))
        }
    }

    @Test func failedProducerStoresNothingAndLeavesTheConnectionUsable() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE t (id int8)")
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try connection.copyIn("COPY t FROM STDIN (FORMAT binary)", flushThreshold: 64) { writer in
                for i in 0..<1000 {
                    try writer.beginRow(fieldCount: 1)
                    writer.appendInt64(Int64(i))
                }
                throw Stop()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM t").scalar() == .int64(0))
        // A server-side failure (wrong field count) is a typed error with SQLSTATE.
        do {
            try connection.copyIn("COPY t FROM STDIN (FORMAT binary)") { writer in
                try writer.beginRow(fieldCount: 2)
                writer.appendInt64(1)
                writer.appendInt64(2)
            }
            Issue.record("a row with too many fields was accepted")
        } catch let error as FeatureStoreError {
            #expect(error.sqlState == "22P04")
        }
        #expect(try connection.query("SELECT 1").scalar() == .int32(1))
    }

    /// Buffers are sent by a thread of their own while the rows are made: a server error in the
    /// middle of a long stream still comes back as the server's error, nothing is stored, and
    /// the connection is usable afterwards (the sending thread has let go of it).
    @Test func serverErrorMidStreamIsReportedAndTheConnectionStaysUsable() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE c (id int8 CHECK (id < 200000), label text)")
        do {
            try connection.copyIn("COPY c FROM STDIN (FORMAT binary)", flushThreshold: 16 * 1024) { writer in
                for i in 0..<400_000 {
                    try writer.beginRow(fieldCount: 2)
                    writer.appendInt64(Int64(i))
                    writer.appendText("row-\(i)")
                }
            }
            Issue.record("rows breaking the CHECK constraint were accepted")
        } catch let error as FeatureStoreError {
            #expect(error.sqlState == "23514")
        }
        #expect(try connection.query("SELECT count(*) FROM c").scalar() == .int64(0))
        // The same connection streams again, many buffers, every row stored in order.
        let stored = try connection.copyIn("COPY c FROM STDIN (FORMAT binary)", flushThreshold: 16 * 1024) { writer in
            for i in 0..<150_000 {
                try writer.beginRow(fieldCount: 2)
                writer.appendInt64(Int64(i))
                writer.appendText("row-\(i)")
            }
        }
        #expect(stored == 150_000)
        #expect(try connection.query("SELECT count(*) FILTER (WHERE label = 'row-' || id) FROM c").scalar() == .int64(150_000))
    }
}
