internal import Dispatch

/// Task-level parallelism for the element-wise phases (softmax, Adam, ranking), used while
/// BLAS is idle, so the two kinds of threads never compete.
enum Parallel {
    /// Splits 0..<count into `threads` contiguous ranges and runs `body` on each concurrently.
    static func forEachRange(count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(threads, count))
        if parts == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let lower = count * part / parts
                let upper = count * (part + 1) / parts
                box.value(lower..<upper)
            }
        }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`, whose parts touch disjoint memory.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
