/// A session: dense item ids 1...N in click order (0 is padding and never appears).
public typealias Session = [Int32]

/// One click of a raw log, before any filtering. `time` is microseconds since the epoch (UTC).
public struct Click<SessionID: Hashable & Sendable, ItemID: Hashable & Sendable>: Sendable {
    public var session: SessionID
    public var item: ItemID
    public var time: Int64

    public init(session: SessionID, item: ItemID, time: Int64) {
        self.session = session
        self.item = item
        self.time = time
    }
}
