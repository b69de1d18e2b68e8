internal import Foundation

/// One numbered SQL file of `sql/`, e.g. `0001_feature_store.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, recorded when applied; an edited file no longer matches.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hex(SHA256.hash(Array(sql.utf8)))
    }

    /// The numbered migrations of a folder (`NNNN_name.sql`), in order. Other files are ignored.
    public static func load(from directory: String) throws -> [Migration] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw FeatureStoreError(.configuration, "cannot read the migrations folder \(directory)",
                hint: "set --sql-dir or DANSER_SQL_DIR to the project's sql/ folder")
        }
        var migrations: [Migration] = []
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else { continue }
            guard let text = FileManager.default.contents(atPath: directory + "/" + file) else {
                throw FeatureStoreError(.configuration, "cannot read migration \(directory)/\(file)")
            }
            migrations.append(Migration(version: version, name: String(stem), sql: String(decoding: text, as: UTF8.self)))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw FeatureStoreError(.migrationMismatch, "two migrations share number \(a.version): \(a.name) and \(b.name)")
        }
        guard !migrations.isEmpty else {
            throw FeatureStoreError(.configuration, "no migrations (NNNN_name.sql) in \(directory)",
                hint: "set --sql-dir or DANSER_SQL_DIR to the project's sql/ folder")
        }
        return migrations
    }

    /// Finds `sql/`: the explicit folder, `DANSER_SQL_DIR`, `<prefix>/share/danser-batch/sql` next
    /// to an installed executable, or the nearest `sql/` above the executable (a source checkout).
    public static func locateDirectory(explicit: String?, environment: [String: String], executablePath: String) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let dir = environment["DANSER_SQL_DIR"], !dir.isEmpty { return dir }
        let fm = FileManager.default
        var folder = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        let installed = folder.deletingLastPathComponent().appendingPathComponent("share/danser-batch/sql").path
        if fm.fileExists(atPath: installed + "/0001_feature_store.sql") { return installed }
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("sql").path
            if fm.fileExists(atPath: candidate + "/0001_feature_store.sql") { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }
}
