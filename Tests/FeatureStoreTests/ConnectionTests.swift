import Foundation
import Testing

@testable import FeatureStore

@Suite struct ConnectionTests {
    @Test func bindsAndReadsEveryTypeInBinary() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        let values: [PostgresValue] = [
            .bool(true), .int16(-7), .int32(123_456), .int64(-9_000_000_000), .float4(1.5), .float8(-2.25),
            .text("grüße ✓"), .bytea([0, 1, 255]), .timestamptz(1_451_606_400_123_456), .date(16_801), .jsonb("{\"a\": 1}"),
        ]
        let placeholders = values.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let row = try connection.query("SELECT \(placeholders)", values).rows()[0]
        #expect(row == values)
        #expect(try connection.query("SELECT $1::int8 IS NULL", [.null]).scalar() == .bool(true))
    }

    @Test func serverTimeMatchesUnixMicros() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        let value = try connection.query("SELECT timestamptz '2016-01-01 00:00:00.5+00'").scalar()
        #expect(value == .timestamptz(1_451_606_400_500_000))
    }

    @Test func errorsCarrySQLStateAndStatementButNotValues() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE t (id int8 PRIMARY KEY)")
        try connection.query("INSERT INTO t VALUES ($1)", [.int64(424_242)])
        do {
            try connection.query("INSERT INTO t VALUES ($1)", [.int64(424_242)])
            Issue.record("duplicate key was accepted")
        } catch let error as FeatureStoreError {
            #expect(error.sqlState == "23505")
            #expect(error.code == .queryFailed)
            #expect(error.statement == "INSERT INTO t VALUES ($1)")
            #expect(!error.isTransient)
            #expect(!error.description.contains("424242"))
        }
        // The connection is still usable after a failed statement.
        #expect(try connection.query("SELECT count(*) FROM t").scalar() == .int64(1))
    }

    @Test func transactionCommitsOrRollsBack() throws {
        let connection = try Connection(try TestDatabase.makeDatabase())
        try connection.query("CREATE TABLE t (id int8)")
        try connection.withTransaction { try $0.query("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try connection.withTransaction { connection in
                try connection.query("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM t").scalar() == .int64(1))
    }

    @Test func passwordNeverAppearsInErrors() throws {
        let configuration = ConnectionConfiguration(
            "postgresql://someone:s3cretPassw0rd@127.0.0.1:1/nowhere", connectTimeoutSeconds: 2)
        #expect(configuration.containsPassword)
        #expect(!configuration.description.contains("s3cretPassw0rd"))
        do {
            _ = try Connection(configuration)
            Issue.record("connected to a closed port")
        } catch let error as FeatureStoreError {
            #expect(error.code == .connectionFailed)
            #expect(!error.expandedDescription.contains("s3cretPassw0rd"))
            #expect(error.description.contains("someone@127.0.0.1:1/nowhere"))
        }
        #expect(configuration.scrub("x s3cretPassw0rd y") == "x *** y")
    }

    /// An empty DATABASE_URL (an unquoted '&' in a sourced env file) or PG* variable is an
    /// error naming it, never the embedded server.
    @Test func anEmptyDatabaseSettingIsAnErrorNotTheEmbeddedServer() throws {
        for environment in [["DATABASE_URL": ""], ["DATABASE_URL": "  "], ["PGHOST": ""], ["PGDATABASE": "x", "PGUSER": ""]] {
            do {
                _ = try ConnectionConfiguration.resolve(databaseURL: nil, environment: environment)
                Issue.record("\(environment) resolved")
            } catch let error as FeatureStoreError {
                #expect(error.code == .configuration)
                let named = environment.first { $0.value.trimmingCharacters(in: .whitespaces).isEmpty }!.key
                #expect(error.message.contains(named), "\(error.message)")
            }
        }
        #expect(throws: FeatureStoreError.self) { try ConnectionConfiguration.resolve(databaseURL: "", environment: [:]) }
    }

    @Test func resolvesConfigurationFromFlagEnvironmentOrNothing() throws {
        #expect(try ConnectionConfiguration.resolve(databaseURL: nil, environment: [:]) == nil)
        #expect(try ConnectionConfiguration.resolve(databaseURL: nil, environment: ["PGHOST": "/tmp"])?.connectionString == "")
        #expect(try ConnectionConfiguration.resolve(databaseURL: nil, environment: ["DATABASE_URL": "postgresql:///a"])?.connectionString == "postgresql:///a")
        #expect(try ConnectionConfiguration.resolve(databaseURL: "postgresql:///b", environment: ["DATABASE_URL": "postgresql:///a"])?.connectionString == "postgresql:///b")
    }

    @Test func identifiersAreValidatedAndQuoted() throws {
        #expect(try SQLIdentifier.quoted("public.click_log") == "\"public\".\"click_log\"")
        #expect(!SQLIdentifier.isValid("clicks; DROP TABLE x"))
        #expect(!SQLIdentifier.isValid("1abc"))
        #expect(!SQLIdentifier.isValid("a.b.c"))
        #expect(throws: FeatureStoreError.self) { try SQLIdentifier.quoted("x\"y") }
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var streamed = SHA256()
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        for start in stride(from: 0, to: million.count, by: 777) { streamed.update(Array(million[start..<min(start + 777, million.count)])) }
        #expect(SHA256.hex(streamed.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct LockAndRetryTests {
    @Test func secondProcessCannotTakeTheAdvisoryLock() throws {
        let database = try TestDatabase.makeDatabase()
        let key = AdvisoryLock.key(for: "nightly-test")
        let lock = try #require(try AdvisoryLock.tryAcquire("nightly-test", configuration: database))
        #expect(lock.isHeld)
        // Another process (psql) and another session of ours both fail to take it.
        #expect(try TestDatabase.psql(database, "SELECT pg_try_advisory_lock(\(key))") == "f")
        #expect(try AdvisoryLock.tryAcquire("nightly-test", configuration: database) == nil)
        lock.release()
        #expect(try TestDatabase.psql(database, "SELECT pg_try_advisory_lock(\(key))") == "t")
    }

    @Test func queryIsRetriedAfterItsBackendIsKilled() throws {
        let configuration = try TestDatabase.makeDatabase()
        let database = Database(configuration, retryPolicy: RetryPolicy(maxAttempts: 5, initialDelay: 0.05, maxDelay: 0.5))
        let firstPID = try database.connection().backendPID
        let admin = try Connection(configuration)
        #expect(try admin.query("SELECT pg_terminate_backend($1)", [.int32(firstPID)]).scalar() == .bool(true))
        var attempts = 0
        let answer = try database.withRetry { connection in
            attempts += 1
            return try connection.query("SELECT 41 + 1").scalar()
        }
        #expect(answer == .int32(42))
        #expect(attempts == 2)
        #expect(try database.connection().backendPID != firstPID)
    }

    @Test func dataErrorsAreNotRetried() throws {
        let database = Database(try TestDatabase.makeDatabase(), retryPolicy: RetryPolicy(maxAttempts: 5, initialDelay: 0.01))
        var attempts = 0
        #expect(throws: FeatureStoreError.self) {
            try database.withRetry { connection in
                attempts += 1
                return try connection.query("SELECT 1 / 0")
            }
        }
        #expect(attempts == 1)
    }

    @Test func backoffGrowsAndIsCapped() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: 0.1, maxDelay: 1)
        for attempt in 1...10 {
            let delay = policy.delay(beforeRetry: attempt)
            #expect(delay >= 0 && delay <= min(1, 0.1 * pow(2, Double(attempt - 1))))
        }
    }
}
