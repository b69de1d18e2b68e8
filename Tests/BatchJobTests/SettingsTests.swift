import FeatureStore
import Foundation
import Testing

@testable import BatchJob

/// The configuration file, the environment and flags: what wins, and what is refused.
@Suite struct SettingsTests {
    static let file = """
        # cron's settings
        [database]
        url = "postgresql://bob:s3cr&t@db.example:5432/danser"   # a '#' in a "quoted # value" stays
        [source]
        table = "analytics.clicks"
        session_column = "visit_id"
        [audit]
        min_sessions = 100
        allow_empty_day = true
        """

    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "danser-settings-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsSectionsQuotedValuesAndComments() throws {
        let parsed = try SettingsFile(path: "f.toml", text: Self.file + "\n[training]\nconfig = \"a \\\"b\\\" # c\"\n")
        #expect(parsed.entries["database.url"]?.value == "postgresql://bob:s3cr&t@db.example:5432/danser")
        #expect(parsed.entries["source.table"]?.value == "analytics.clicks")
        #expect(parsed.entries["source.table"]?.line == 5)
        #expect(parsed.entries["audit.min_sessions"]?.value == "100")
        #expect(parsed.entries["training.config"]?.value == "a \"b\" # c")
    }

    @Test(arguments: [
        ("[source]\ntabel = \"x\"\n", "line 2: unknown setting 'source.tabel'"),
        ("[source]\ntable = analytics clicks\n", "line 2: put text values in double quotes"),
        ("[source]\ntable = \"x\"\ntable = \"y\"\n", "line 3: 'source.table' is set twice"),
        ("[source\n", "line 1: a section header must end with ]"),
        ("[source]\ntable = \"x\n", "line 2: the quoted value is not closed"),
        ("just words\n", "line 1: expected key = value"),
    ])
    func refusesWhatItCannotRead(text: String, message: String) throws {
        do {
            _ = try SettingsFile(path: "f.toml", text: text)
            Issue.record("accepted: \(text)")
        } catch let error as FeatureStoreError {
            #expect(error.code == .configuration)
            #expect(error.message.contains("f.toml, \(message)"), "\(error.message)")
        }
    }

    /// Flags over the environment over the file over the built-in default, each value saying
    /// where it came from.
    @Test func flagsOverrideTheEnvironmentWhichOverridesTheFile() throws {
        let path = try write(Self.file)
        let settings = try Settings.load(
            arguments: ["nightly", "--config-file", path, "--session-column", "sid", "--no-exclude-seen"],
            environment: ["DANSER_TOP_K": "7", "DANSER_SOURCE_TABLE": "env.clicks", "HOME": "/nonexistent"])
        #expect(settings.effective(.sourceTable) == .init(value: "env.clicks", origin: .environment("DANSER_SOURCE_TABLE")))
        #expect(settings.effective(.sessionColumn) == .init(value: "sid", origin: .flag("--session-column")))
        #expect(settings.effective(.itemColumn) == .init(value: "item_id", origin: .builtIn))
        #expect(settings.effective(.minSessions) == .init(value: "100", origin: .file(path: path, line: 8)))
        #expect(settings.effective(.excludeSeen) == .init(value: "false", origin: .flag("--no-exclude-seen")))
        #expect(settings.value(.topK, or: 20) == 7)
        #expect(settings.value(.minSessions, or: 1) == 100)
        #expect(settings.bool(.allowEmptyDay))
        #expect(settings.optional(.metricsDir) as String? == nil)
        // Code that reads the environment sees the file's values under their variable names.
        #expect(settings.mergedEnvironment["DATABASE_URL"] == "postgresql://bob:s3cr&t@db.example:5432/danser")
        #expect(settings.mergedEnvironment["DANSER_SOURCE_TABLE"] == "env.clicks")
        #expect(settings.describe(variable: "DATABASE_URL") == "database.url in \(path), line 3")
    }

    @Test func theFileIsFoundThroughDanserConfigOrTheDefaultLocation() throws {
        let path = try write("[source]\ntable = \"a.b\"\n")
        let named = try Settings.load(arguments: [], environment: ["DANSER_CONFIG": path, "HOME": "/nonexistent"])
        #expect(named.value(.sourceTable, or: "") == "a.b")
        let home = NSTemporaryDirectory() + "danser-home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home + "/.config/danser-batch", withIntermediateDirectories: true)
        try "[source]\ntable = \"c.d\"\n".write(toFile: home + "/.config/danser-batch/config.toml", atomically: true, encoding: .utf8)
        let found = try Settings.load(arguments: [], environment: ["HOME": home])
        #expect(found.value(.sourceTable, or: "") == "c.d")
        #expect(found.file?.path == home + "/.config/danser-batch/config.toml")
    }

    /// A setting that is present but empty or of the wrong kind is a configuration error that
    /// names it; a named file that is missing too.
    @Test(arguments: [
        (["DATABASE_URL": ""], "environment variable DATABASE_URL is set but empty"),
        (["PGHOST": ""], "environment variable PGHOST is set but empty"),
        (["DANSER_TOP_K": "twenty"], "environment variable DANSER_TOP_K 'twenty' is not a whole number"),
        (["DANSER_EXCLUDE_SEEN": "maybe"], "environment variable DANSER_EXCLUDE_SEEN 'maybe' is not true or false"),
        (["DANSER_MODE": "sometimes"], "environment variable DANSER_MODE 'sometimes' is not one of auto, retrain, finetune"),
        (["DANSER_CONFIG": ""], "DANSER_CONFIG is set but empty"),
        (["DANSER_CONFIG": "/nonexistent/danser.toml"], "cannot read the configuration file /nonexistent/danser.toml"),
    ])
    func emptyOrMalformedSettingsAreNamed(environment: [String: String], message: String) throws {
        do {
            _ = try Settings.load(arguments: [], environment: environment.merging(["HOME": "/nonexistent"]) { a, _ in a })
            Issue.record("accepted: \(environment)")
        } catch let error as FeatureStoreError {
            #expect(error.code == .configuration)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func anEmptyDatabaseURLInTheFileIsNamedByItsLine() throws {
        let path = try write("[database]\nurl = \"\"\n")
        #expect {
            try Settings.load(arguments: ["--config-file=\(path)"], environment: ["HOME": "/nonexistent"])
        } throws: { error in
            (error as? FeatureStoreError)?.message == "database.url in \(path), line 2: is set but empty"
        }
    }

    /// `config` never shows a password, from the file or the environment.
    @Test func theConfigTableRedactsPasswordsAndSaysWhereEachValueCameFrom() throws {
        let path = try write(Self.file)
        let settings = try Settings.load(arguments: ["--config-file", path, "--top-k", "9"], environment: ["HOME": "/nonexistent"])
        let table = ConfigCommand.render(settings, database: "bob@db.example:5432/danser")
        #expect(!table.contains("s3cr&t"))
        #expect(table.contains("postgresql://bob:***@db.example:5432/danser"))
        #expect(table.contains("configuration file: \(path)"))
        let topK = table.split(separator: "\n").first { $0.hasPrefix("scoring.top_k ") }
        #expect(topK?.hasSuffix("flag --top-k") == true)
        #expect(topK?.contains(" 9 ") == true)
        let table2 = table.split(separator: "\n").first { $0.hasPrefix("source.table ") }
        #expect(table2?.hasSuffix("file \(path):5") == true)
    }

    /// The documented example sets every key, and every key it sets is known.
    @Test func theExampleFileCoversEverySetting() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("cron/config.toml.example").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let example = try SettingsFile(path: path, text: text)
        for key in SettingKey.all {
            #expect(example.entries[key.key] != nil || text.contains("# \(key.key.split(separator: ".").last!) = "), "\(key.key) is not in the example")
        }
    }

    @Test func flagValuesAreReadInBothSpellingsBeforeATerminator() {
        #expect(Settings.flagValue("--top-k", in: ["--top-k", "5"]) == "5")
        #expect(Settings.flagValue("--top-k", in: ["--top-k=6"]) == "6")
        #expect(Settings.flagValue("--top-k", in: ["--", "--top-k", "5"]) == nil)
        #expect(Settings.flagValue("--top-k", in: ["--top-k-other", "5"]) == nil)
    }
}
