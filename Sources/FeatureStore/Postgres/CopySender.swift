internal import CPostgres
internal import Foundation

/// Sends a COPY's filled buffers from a thread of its own, so that the caller makes and encodes
/// the next rows while the server parses these. Without it the two take turns: libpq blocks in
/// `PQputCopyData` until the socket has taken a whole buffer, and the server waits while the
/// caller encodes the next one.
///
/// Each buffer is copied into one of two slots (a copy costs a small fraction of encoding it),
/// so the caller runs at most two buffers ahead. The connection belongs to the sending thread
/// from the first `send` until `finish` returns, and to the caller's thread outside that span:
/// call `finish` before any other use of the connection, on success and on failure alike.
final class CopySender: @unchecked Sendable {
    private struct Slot {
        var base: UnsafeMutableRawPointer
        var capacity: Int
        var count = 0
    }

    private let handle: OpaquePointer
    private let condition = NSCondition()
    private var free: [Slot] = []
    private var filled: [Slot] = []
    private var started = false
    private var closing = false
    private var running = false
    private var failed = false

    private let slotBytes: Int

    /// `slotBytes`: the usual size of a buffer (a larger one grows its slot).
    init(handle: OpaquePointer, slotBytes: Int) {
        self.handle = handle
        self.slotBytes = max(slotBytes, 1)
    }

    deinit {
        for slot in free + filled { slot.base.deallocate() }
    }

    /// Queues a copy of `bytes` for sending; waits while both slots are queued. Throws
    /// `.copyFailed` once a send has failed (the server's error is read after `finish`).
    func send(_ bytes: UnsafeRawBufferPointer) throws {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        condition.lock()
        if !started { start() }
        while free.isEmpty && !failed { condition.wait() }
        if failed {
            condition.unlock()
            throw FeatureStoreError(.copyFailed, "sending COPY data failed")
        }
        var slot = free.removeLast()
        condition.unlock()
        if slot.capacity < bytes.count {
            slot.base.deallocate()
            slot = Slot(base: .allocate(byteCount: bytes.count, alignment: 16), capacity: bytes.count)
        }
        slot.base.copyMemory(from: source, byteCount: bytes.count)
        slot.count = bytes.count
        condition.lock()
        filled.append(slot)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every queued buffer is sent and the sending thread has ended. Throws
    /// `.copyFailed` when a send failed.
    func finish() throws {
        condition.lock()
        closing = true
        condition.broadcast()
        while running { condition.wait() }
        let failed = failed
        condition.unlock()
        if failed { throw FeatureStoreError(.copyFailed, "sending COPY data failed") }
    }

    /// Called with the lock held.
    private func start() {
        started = true
        running = true
        for _ in 0..<2 { free.append(Slot(base: .allocate(byteCount: slotBytes, alignment: 16), capacity: slotBytes)) }
        let thread = Thread { [self] in sendLoop() }
        thread.name = "COPY sender"
        thread.start()
    }

    private func sendLoop() {
        while true {
            condition.lock()
            while filled.isEmpty && !closing { condition.wait() }
            if filled.isEmpty {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let slot = filled.removeFirst()
            let skip = failed  // after a failure the rest is dropped; the COPY is aborted
            condition.unlock()
            let sent = skip || PQputCopyData(handle, slot.base.assumingMemoryBound(to: CChar.self), Int32(slot.count)) == 1
            condition.lock()
            if !sent { failed = true }
            free.append(slot)
            condition.broadcast()
            condition.unlock()
        }
    }
}
