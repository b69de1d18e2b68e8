/// A dense row-major float32 matrix: the activations that flow between layers.
struct Matrix: Sendable {
    var rows: Int
    var cols: Int
    var storage: [Float]

    init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        storage = [Float](repeating: 0, count: rows * cols)
    }

    init(rows: Int, cols: Int, storage: [Float]) {
        precondition(storage.count == rows * cols)
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    subscript(row: Int, col: Int) -> Float {
        get { storage[row * cols + col] }
        set { storage[row * cols + col] = newValue }
    }
}

/// Where one named parameter lives in the flat parameter vector.
public struct ParameterSlot: Codable, Sendable, Hashable {
    public let name: String
    public let offset: Int
    public let rows: Int
    public let cols: Int
    public var count: Int { rows * cols }
}

/// Named slots in one flat vector: Adam, zeroing and checkpoints then work on a single buffer.
public struct ParameterLayout: Codable, Sendable, Hashable {
    public private(set) var slots: [ParameterSlot] = []
    public private(set) var totalCount = 0

    init() {}

    /// Appends a slot and returns it.
    mutating func add(_ name: String, rows: Int, cols: Int) -> ParameterSlot {
        let slot = ParameterSlot(name: name, offset: totalCount, rows: rows, cols: cols)
        slots.append(slot)
        totalCount += slot.count
        return slot
    }
}

/// Raw access to parameter values and their gradients for one step (valid only inside the
/// `withUnsafeMutableBufferPointer` scope that made it).
struct ParameterAccess {
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>

    @inline(__always) func value(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> { values + slot.offset }
    @inline(__always) func gradient(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> { gradients + slot.offset }
}
