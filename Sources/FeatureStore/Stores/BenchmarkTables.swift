/// Scratch tables of the serving benchmark: a plain copy of the recommendations table's shape
/// that `psql \copy` fills, to compare the job's publishing against, and the benchmark's day.
public struct BenchmarkTables: Sendable {
    public init() {}

    /// The table `psql \copy` writes into: same columns as `danser.recommendations`, no keys.
    public static let comparisonTable = "public.bench_psql_copy"

    /// Creates the comparison table empty (dropping a leftover one).
    public func createComparisonTable(on connection: Connection) throws {
        try dropComparisonTable(on: connection)
        try connection.query("CREATE TABLE \(Self.comparisonTable) (LIKE danser.recommendations INCLUDING DEFAULTS)")
    }

    public func dropComparisonTable(on connection: Connection) throws {
        try connection.query("DROP TABLE IF EXISTS \(Self.comparisonTable)")
    }

    /// Writes out the dirty pages (CHECKPOINT), so what one side of a benchmark wrote is not
    /// flushed on the other's time. False when the role may not (a superuser or pg_checkpoint).
    @discardableResult
    public func checkpoint(on connection: Connection) -> Bool {
        (try? connection.query("CHECKPOINT")) != nil
    }

    /// Removes the day the benchmark published.
    public func dropDay(_ asOfDay: Int32, on connection: Connection) throws {
        try RetentionStore().dropDay(asOfDay, on: connection)
    }
}
