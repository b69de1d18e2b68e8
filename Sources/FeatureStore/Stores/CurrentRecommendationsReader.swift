/// Reads the published result the way an analyst does, through the `bi` views: a few sessions
/// of the current day, a session's top items, and the current day's row of `bi.days`.
public struct CurrentRecommendationsReader: Sendable {
    public init() {}

    /// One recommended item of a session.
    public struct Item: Sendable, Equatable {
        public var rank: Int
        public var itemID: String
        /// The model's score; nil for a popularity-fallback row.
        public var score: Double?
    }

    /// The current day, as `bi.days` shows it.
    public struct Day: Sendable, Equatable {
        public var asOfDay: Int32
        public var sessions: Int64
        /// Nil for a day published before rows were counted.
        public var rows: Int64?
        /// Nil when unknown (a day published by sharded scoring before it was counted).
        public var fallbackSessions: Int64?
        public var modelVersion: Int64
    }

    /// The first `limit` sessions of the current day, by session id.
    public func sampleSessions(limit: Int, on connection: Connection) throws -> [String] {
        let result = try connection.query(
            "SELECT session_id FROM bi.recommendations_current WHERE rank = 1 ORDER BY session_id LIMIT $1", [.int64(Int64(limit))])
        return try (0..<result.rowCount).map { try result.text($0, 0) }
    }

    /// A session's items of the current day, best first, at most `limit`.
    public func top(session: String, limit: Int, on connection: Connection) throws -> [Item] {
        let result = try connection.query(
            "SELECT rank, item_id, score FROM bi.recommendations_current WHERE session_id = $1 AND rank <= $2 ORDER BY rank",
            [.text(session), .int64(Int64(limit))])
        return try (0..<result.rowCount).map { row in
            Item(rank: try result.int(row, 0), itemID: try result.text(row, 1), score: try result.optionalDouble(row, 2))
        }
    }

    /// The current day's row of `bi.days`, nil when nothing is published.
    public func currentDay(on connection: Connection) throws -> Day? {
        let result = try connection.query(
            "SELECT as_of, sessions, recommendation_rows, fallback_sessions, model_version FROM bi.days WHERE is_current")
        guard result.rowCount > 0 else { return nil }
        return Day(
            asOfDay: try result.date(0, 0), sessions: try result.int64(0, 1), rows: try result.optionalInt64(0, 2),
            fallbackSessions: try result.optionalInt64(0, 3), modelVersion: try result.int64(0, 4))
    }
}
