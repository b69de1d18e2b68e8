/// A growing column of fixed-size values in chunks of 65,536: appending never copies what is
/// there and never holds more than one partly filled chunk, so a column of n values costs about
/// n x stride bytes at its peak, where an array that doubles can briefly need three times that.
struct ChunkedColumn<Element: Sendable>: RandomAccessCollection, MutableCollection, Sendable {
    private static var chunkShift: Int { 16 }
    private static var chunkSize: Int { 1 << chunkShift }
    private var chunks: [[Element]] = []
    private(set) var count = 0

    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    subscript(position: Int) -> Element {
        get { chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)] }
        set { chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)] = newValue }
    }

    mutating func append(_ value: Element) {
        if count & (Self.chunkSize - 1) == 0 {
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkSize)
        }
        chunks[chunks.count - 1].append(value)
        count += 1
    }

    /// Keeps the first `newCount` values, freeing the chunks past them.
    mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count)
        let chunksKept = (newCount + Self.chunkSize - 1) >> Self.chunkShift
        chunks.removeSubrange(chunksKept...)
        if let last = chunks.indices.last { chunks[last].removeSubrange((newCount - last * Self.chunkSize)...) }
        count = newCount
    }
}

/// Texts numbered in the order first seen, each kept once: an open-addressing table of numbers
/// (4 bytes a slot, at most half full) over the list of texts, instead of a dictionary keyed by
/// the texts, which would hold every text twice.
struct InternTable: Sendable {
    private(set) var texts: [String] = []
    private var slots = [Int32](repeating: -1, count: 1_024)

    /// The number of `text`, given the next one if it is new.
    mutating func intern(_ text: String) -> Int32 {
        let slot = find(text)
        if slots[slot] >= 0 { return slots[slot] }
        let number = Int32(texts.count)
        texts.append(text)
        slots[slot] = number
        if texts.count * 2 > slots.count { grow() }
        return number
    }

    /// The number of `text`, or nil if it was never interned.
    func number(of text: String) -> Int32? {
        let number = slots[find(text)]
        return number >= 0 ? number : nil
    }

    /// The slot that holds `text`'s number, or the empty slot where it would go.
    private func find(_ text: String) -> Int {
        let mask = slots.count - 1
        var slot = text.hashValue & mask
        while slots[slot] >= 0 && texts[Int(slots[slot])] != text { slot = (slot + 1) & mask }
        return slot
    }

    private mutating func grow() {
        let mask = slots.count * 2 - 1
        var grown = [Int32](repeating: -1, count: slots.count * 2)
        for (number, text) in texts.enumerated() {
            var slot = text.hashValue & mask
            while grown[slot] >= 0 { slot = (slot + 1) & mask }
            grown[slot] = Int32(number)
        }
        slots = grown
    }
}
