/// What retention (`prune`) decides on, and its two deletions: recommendation days (published,
/// or partitions a killed run left behind) and model versions.
public struct RetentionStore: Sendable {
    public init() {}

    /// One day of recommendations: published (with its run), or a partition never published.
    public struct Day: Sendable, Equatable {
        public var asOfDay: Int32
        public var runID: Int64?
        public var modelVersion: Int64?
        public var sessions: Int64?
        /// Published with a passed day audit (migration 0006 on).
        public var audited: Bool
    }

    /// A model with what decides whether it stays: status, lineage and date.
    public struct Model: Sendable, Equatable {
        public var version: Int64
        public var parentVersion: Int64?
        public var status: ModelStatus
        public var mode: ModelMode
        public var asOfDay: Int32
    }

    /// Published days, and partitions that were never published (a killed run's leftovers).
    public func days(on connection: Connection) throws -> [Day] {
        let result = try connection.query("""
            SELECT coalesce(p.as_of, d.as_of), p.run_id, p.model_version, p.sessions, p.audit IS NOT NULL
            FROM danser.published_recommendations p
            FULL JOIN (
                SELECT to_date(substr(c.relname, 17), 'YYYYMMDD') AS as_of
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'danser.recommendations'::regclass AND c.relname ~ '^recommendations_[0-9]{8}$'
            ) d ON d.as_of = p.as_of
            """)
        return try (0..<result.rowCount).map { row in
            Day(
                asOfDay: try result.date(row, 0), runID: try result.optionalInt64(row, 1), modelVersion: try result.optionalInt64(row, 2),
                sessions: try result.optionalInt64(row, 3), audited: try result.bool(row, 4))
        }
    }

    public func models(on connection: Connection) throws -> [Model] {
        let result = try connection.query("SELECT model_version, parent_version, status, mode, as_of FROM danser.models")
        return try (0..<result.rowCount).map { row in
            Model(
                version: try result.int64(row, 0), parentVersion: try result.optionalInt64(row, 1), status: try result.decode(row, 2),
                mode: try result.decode(row, 3), asOfDay: try result.date(row, 4))
        }
    }

    /// Drops one day of recommendations and its publication record, through the job's function.
    public func dropDay(_ asOfDay: Int32, on connection: Connection) throws {
        try connection.query("SELECT danser.drop_recommendations_day($1)", [.date(asOfDay)])
    }

    /// Deletes a model with its embeddings and statistics (its history stays).
    public func deleteModel(version: Int64, on connection: Connection) throws {
        try connection.query("DELETE FROM danser.models WHERE model_version = $1", [.int64(version)])
    }
}
