/// The item vocabulary (`danser.items`): external id <-> dense index 1...N. Indices are assigned
/// once, in order, and never renumbered; a vocabulary only grows.
public struct ItemVocabularyStore: Sendable {
    public init() {}

    /// External ids in index order: element i has dense index i + 1.
    public func load(on connection: Connection) throws -> [String] {
        var ids: [String] = []
        var expected = 1
        try connection.copyOut("COPY (SELECT item_index, external_id FROM danser.items ORDER BY item_index) TO STDOUT (FORMAT binary)") { row in
            guard let index = row.int64(0), let id = row.text(1) else {
                throw FeatureStoreError(.decodingFailed, "danser.items holds a NULL index or id")
            }
            guard index == expected else {
                throw FeatureStoreError(.decodingFailed, "danser.items has a gap: index \(index) where \(expected) was expected",
                    hint: "the vocabulary must be dense; restore it from a backup")
            }
            ids.append(id)
            expected += 1
        }
        return ids
    }

    /// Appends `newIDs` as indices `existingCount + 1 ...`, in the caller's transaction. Refuses
    /// if the table no longer has `existingCount` rows (another writer, or a shrink).
    public func append(
        _ newIDs: [String], after existingCount: Int, firstSeen: [Int64], on connection: Connection
    ) throws {
        precondition(firstSeen.count == newIDs.count)
        let current = try connection.query("SELECT count(*) FROM danser.items").requiredScalar(QueryResult.int64, "counting items")
        guard current == Int64(existingCount) else {
            throw FeatureStoreError(.queryFailed,
                "the item vocabulary has \(current) items, this run expected \(existingCount); it never shrinks and only one run writes it",
                hint: "rerun the night; if it persists, check that nothing else writes danser.items")
        }
        guard !newIDs.isEmpty else { return }
        try connection.copyIn("COPY danser.items (item_index, external_id, first_seen, last_seen, click_count) FROM STDIN (FORMAT binary)") { writer in
            for (offset, id) in newIDs.enumerated() {
                try writer.beginRow(fieldCount: 5)
                writer.appendInt32(Int32(existingCount + offset + 1))
                writer.appendText(id)
                writer.appendTimestamp(micros: firstSeen[offset])
                writer.appendTimestamp(micros: firstSeen[offset])
                writer.appendInt64(0)
            }
        }
    }

    /// Refreshes click counts and last-seen times from a night's ingest (index -> (count, last)).
    public func updateActivity(_ activity: [(index: Int32, clicks: Int64, lastSeen: Int64)], on connection: Connection) throws {
        guard !activity.isEmpty else { return }
        try connection.query("DROP TABLE IF EXISTS pg_temp.item_activity")
        try connection.query("CREATE TEMP TABLE item_activity (item_index integer, clicks bigint, last_seen timestamptz)")
        defer { _ = try? connection.query("DROP TABLE IF EXISTS pg_temp.item_activity") }
        try connection.copyIn("COPY item_activity FROM STDIN (FORMAT binary)") { writer in
            for entry in activity {
                try writer.beginRow(fieldCount: 3)
                writer.appendInt32(entry.index)
                writer.appendInt64(entry.clicks)
                writer.appendTimestamp(micros: entry.lastSeen)
            }
        }
        try connection.query("""
            UPDATE danser.items i SET click_count = a.clicks, last_seen = greatest(i.last_seen, a.last_seen)
            FROM item_activity a WHERE i.item_index = a.item_index
            """)
    }
}
