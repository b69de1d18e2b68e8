/// The last completed epoch of an unfinished training, kept in the database so that a killed
/// or interrupted night resumes where it stopped instead of starting over.
public struct TrainingCheckpointStore: Sendable {
    public init() {}

    public func save(asOfDay: Int32, fingerprint: String, epoch: Int, checkpoint: [UInt8], runID: Int64?, on connection: Connection) throws {
        try connection.query("""
            INSERT INTO danser.training_checkpoints (as_of, fingerprint, epoch, checkpoint, run_id) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (as_of, fingerprint) DO UPDATE SET epoch = EXCLUDED.epoch, checkpoint = EXCLUDED.checkpoint,
                run_id = EXCLUDED.run_id, updated_at = now()
            """,
            [.date(asOfDay), .text(fingerprint), .int32(Int32(epoch)), .bytea(checkpoint), runID.map { .int64($0) } ?? .null])
    }

    public func load(asOfDay: Int32, fingerprint: String, on connection: Connection) throws -> (epoch: Int, checkpoint: [UInt8])? {
        let result = try connection.query(
            "SELECT epoch, checkpoint FROM danser.training_checkpoints WHERE as_of = $1 AND fingerprint = $2",
            [.date(asOfDay), .text(fingerprint)])
        guard result.rowCount == 1 else { return nil }
        return (try result.int(0, 0), try result.bytes(0, 1))
    }

    public func delete(asOfDay: Int32, fingerprint: String, on connection: Connection) throws {
        try connection.query("DELETE FROM danser.training_checkpoints WHERE as_of = $1 AND fingerprint = $2", [.date(asOfDay), .text(fingerprint)])
    }
}
