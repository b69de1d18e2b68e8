internal import CPostgres

extension Connection {
    /// Streams rows into `COPY ... FROM STDIN (FORMAT binary)`. `produce` writes the rows; if
    /// it throws, the COPY is aborted (nothing is stored) and its error rethrown. Each filled
    /// buffer is sent by a thread of its own (`CopySender`) while `produce` runs on.
    /// Returns the rows the server stored.
    @discardableResult
    public func copyIn(_ sql: String, flushThreshold: Int = 1 << 20, _ produce: (inout BinaryCopyWriter) throws -> Void) throws -> Int {
        _ = try check(PQexec(handle, sql), statement: sql)
        // Filled buffers are sent from a thread of their own while `produce` makes the next rows.
        let sender = CopySender(handle: handle, slotBytes: flushThreshold + 4096)
        var writer = BinaryCopyWriter(flushThreshold: flushThreshold) { bytes in try sender.send(bytes) }
        do {
            try produce(&writer)
            try writer.finish()
            try sender.finish()
        } catch {
            try? sender.finish()  // the connection is this thread's again only once the sender is done
            PQputCopyEnd(handle, "aborted by the client")
            // The server's own error (with its SQLSTATE) when it is why sending failed.
            let serverError = drainResults(statement: sql)
            if let error = error as? FeatureStoreError, error.code == .copyFailed {
                throw serverError ?? lastError(statement: sql).withFallback(error)
            }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw lastError(statement: sql) }
        lastCopyPeakBufferedBytes = writer.peakBufferedBytes
        return try finishCopy(statement: sql)
    }

    /// Streams ready-made binary COPY bytes (e.g. rows spooled to a file by a `BinaryCopyWriter`)
    /// into `COPY ... FROM STDIN (FORMAT binary)`. `produce` calls `send` once per piece.
    @discardableResult
    public func copyIn(_ sql: String, rawBytes produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int {
        _ = try check(PQexec(handle, sql), statement: sql)
        do {
            try produce { bytes in
                let sent = PQputCopyData(handle, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
                if sent != 1 { throw FeatureStoreError(.copyFailed, "sending COPY data failed") }
            }
        } catch {
            PQputCopyEnd(handle, "aborted by the client")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw lastError(statement: sql) }
        return try finishCopy(statement: sql)
    }

    /// Streams the rows of `COPY ... TO STDOUT (FORMAT binary)` to `consume`, one at a time.
    /// Returns the row count.
    @discardableResult
    public func copyOut(_ sql: String, _ consume: (BinaryCopyRow) throws -> Void) throws -> Int {
        _ = try check(PQexec(handle, sql), statement: sql)
        var reader = BinaryCopyReader()
        var failure: (any Error)?
        while true {
            var message: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &message, 0)
            if length == -1 { break }
            if length == -2 { throw lastError(statement: sql) }
            guard let message else { continue }
            defer { PQfreemem(message) }
            if failure != nil { continue }  // keep draining so the connection stays usable
            do {
                try reader.consume(UnsafeRawBufferPointer(start: message, count: Int(length)), consume)
            } catch {
                failure = error
            }
        }
        lastCopyPeakBufferedBytes = reader.peakPendingBytes
        _ = try finishCopy(statement: sql)
        if let failure { throw failure }
        return reader.rowCount
    }

    /// Reads the COPY's final result; returns the row count the server reports.
    private func finishCopy(statement: String) throws -> Int {
        var rows = 0
        var firstError: (any Error)?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
                PQclear(result)
            } else if firstError == nil {
                firstError = makeError(result, statement: statement)
                PQclear(result)
            } else {
                PQclear(result)
            }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Discards the pending results; returns the first error among them.
    @discardableResult
    private func drainResults(statement: String? = nil) -> FeatureStoreError? {
        var firstError: FeatureStoreError?
        while let result = PQgetResult(handle) {
            if firstError == nil, PQresultStatus(result) == PGRES_FATAL_ERROR { firstError = makeError(result, statement: statement) }
            PQclear(result)
        }
        return firstError
    }
}

extension FeatureStoreError {
    /// Prefers the server's own message when it has one.
    func withFallback(_ other: FeatureStoreError) -> FeatureStoreError {
        message.isEmpty ? other : self
    }
}
