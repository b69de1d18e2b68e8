public import Logging

/// Applies numbered, forward-only migrations, each recorded with its checksum in
/// `danser.schema_migrations`. An applied migration whose file changed is an error, never a
/// silent re-run. Concurrent migrators queue on a transaction advisory lock.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    let logger: Logger

    public init(_ migrations: [Migration], logger: Logger = Logger(label: "danser.migrate")) {
        self.migrations = migrations
        self.logger = logger
    }

    /// What `apply` did: the migrations it ran now and those already in place.
    public struct Outcome: Sendable {
        public var applied: [Migration]
        public var alreadyApplied: Int
    }

    static let bookkeeping = """
        CREATE SCHEMA IF NOT EXISTS danser;
        CREATE TABLE IF NOT EXISTS danser.schema_migrations (
            version     integer PRIMARY KEY,
            name        text        NOT NULL,
            checksum    text        NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE danser.schema_migrations IS 'Applied migrations of sql/, with the SHA-256 of each file as applied.';
        """

    /// Applies every pending migration in one transaction; checks the applied ones first.
    /// With nothing pending it only reads, so a role without DDL rights (the job's) can call it.
    @discardableResult
    public func apply(on connection: Connection) throws -> Outcome {
        let alreadyCurrent = try connection.withTransaction { connection -> Int? in
            guard try pending(on: connection).isEmpty else { return nil }
            return try connection.query("SELECT count(*) FROM danser.schema_migrations").requiredScalar(QueryResult.int, "counting applied migrations")
        }
        if let alreadyCurrent { return Outcome(applied: [], alreadyApplied: alreadyCurrent) }
        return try connection.withTransaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(AdvisoryLock.key(for: "danser-batch migrate"))])
            try connection.execute(script: Self.bookkeeping)
            let applied = try appliedChecksums(on: connection)
            try verify(applied)
            var ran: [Migration] = []
            for migration in migrations where applied[migration.version] == nil {
                logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
                do { try connection.execute(script: migration.sql) } catch var error as FeatureStoreError {
                    error.message = "migration \(migration.name) failed: \(error.message)"
                    throw error
                }
                try connection.query(
                    "INSERT INTO danser.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int32(Int32(migration.version)), .text(migration.name), .text(migration.checksum)])
                ran.append(migration)
            }
            return Outcome(applied: ran, alreadyApplied: applied.count)
        }
    }

    /// Migrations not yet applied (after checking the applied ones). Read-only.
    public func pending(on connection: Connection) throws -> [Migration] {
        let exists = try connection.query("SELECT to_regclass('danser.schema_migrations') IS NOT NULL")
            .requiredScalar(QueryResult.bool, "looking for the migration record")
        guard exists else { return migrations }
        let applied = try appliedChecksums(on: connection)
        try verify(applied)
        return migrations.filter { applied[$0.version] == nil }
    }

    private func appliedChecksums(on connection: Connection) throws -> [Int: (name: String, checksum: String)] {
        let result = try connection.query("SELECT version, name, checksum FROM danser.schema_migrations ORDER BY version")
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in 0..<result.rowCount {
            applied[try result.int(row, 0)] = (try result.text(row, 1), try result.text(row, 2))
        }
        return applied
    }

    private func verify(_ applied: [Int: (name: String, checksum: String)]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw FeatureStoreError(.migrationMismatch,
                    "the database has migration \(record.name), which this program's sql/ folder does not have",
                    hint: "run a newer danser-batch, or point --sql-dir at the matching sql/ folder")
            }
            guard migration.checksum == record.checksum else {
                throw FeatureStoreError(.migrationMismatch,
                    "migration \(migration.name) was edited after it was applied (checksum differs)",
                    hint: "migrations are forward-only: restore the applied file and put the change in a new numbered migration")
            }
        }
    }

    /// Runs `sql/roles.sql` (job and BI roles, grants); idempotent. Needs CREATEROLE.
    public static func applyRoles(script: String, on connection: Connection) throws {
        try connection.withTransaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(AdvisoryLock.key(for: "danser-batch roles"))])
            try connection.execute(script: script)
        }
    }
}
