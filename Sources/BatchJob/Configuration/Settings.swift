import ArgumentParser
import FeatureStore
import Foundation
import Synchronization

/// The settings every command starts from: the configuration file, then the environment on top
/// of it; command-line flags override both. Read and checked once, before the command line is
/// parsed, because the options take their defaults from here (ArgumentParser evaluates an
/// option's default when it builds the command), and never changed afterwards.
struct Settings: Sendable {
    /// Where a value came from.
    enum Origin: Sendable, Equatable, CustomStringConvertible {
        case builtIn
        case file(path: String, line: Int)
        case environment(String)
        case flag(String)

        var description: String {
            switch self {
            case .builtIn: return "default"
            case .file(let path, let line): return "file \(path):\(line)"
            case .environment(let name): return "env \(name)"
            case .flag(let name): return "flag \(name)"
            }
        }
    }

    struct Resolved: Sendable, Equatable {
        var value: String?
        var origin: Origin
    }

    /// The configuration file in use, if any.
    let file: SettingsFile?
    /// The process environment.
    let environment: [String: String]
    /// Values given on the command line, by setting key (read off the arguments, for `config`).
    let flags: [String: String]
    /// The spelling of each flag given (`--no-exclude-seen`), by setting key.
    var flagSpellings: [String: String] = [:]

    /// The variables of libpq that configure a server (an empty one is an error, not "unset").
    static let libpqVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"]

    /// Default locations of the configuration file, first found wins:
    /// `$XDG_CONFIG_HOME/danser-batch/config.toml` (else `~/.config/...`), then `/etc/danser-batch/config.toml`.
    static func defaultFileLocations(environment: [String: String]) -> [String] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        return [xdg + "/danser-batch/config.toml", "/etc/danser-batch/config.toml"]
    }

    /// Reads the file (`--config-file`, else `DANSER_CONFIG`, else the first default location
    /// that exists) and checks every value the file and the environment give. A named file that
    /// cannot be read, an unknown key, a value of the wrong kind, or a setting that is present
    /// but empty is a configuration error naming where it came from.
    static func load(arguments: [String], environment: [String: String]) throws -> Settings {
        let explicit = Self.flagValue("--config-file", in: arguments)
        var file: SettingsFile?
        if let explicit {
            guard !explicit.isEmpty else { throw FeatureStoreError(.configuration, "--config-file is empty", hint: "give the path of a configuration file") }
            file = try SettingsFile.load(path: explicit)
        } else if let named = environment["DANSER_CONFIG"] {
            guard !named.isEmpty else {
                throw FeatureStoreError(.configuration, "DANSER_CONFIG is set but empty",
                    hint: "set it to the path of a configuration file, or unset it (quote values in environment files)")
            }
            file = try SettingsFile.load(path: named)
        } else if let found = defaultFileLocations(environment: environment).first(where: { FileManager.default.fileExists(atPath: $0) }) {
            file = try SettingsFile.load(path: found)
        }
        var flags: [String: String] = [:]
        var spellings: [String: String] = [:]
        for key in SettingKey.all {
            if key.kind == .boolean {
                let negated = "--no-" + key.flag.dropFirst(2)
                if let last = arguments.last(where: { $0 == key.flag || $0 == negated }) {
                    flags[key.key] = last == key.flag ? "true" : "false"
                    spellings[key.key] = last
                }
            } else if let value = flagValue(key.flag, in: arguments) {
                flags[key.key] = value
            }
        }
        var settings = Settings(file: file, environment: environment, flags: flags)
        settings.flagSpellings = spellings
        try settings.check()
        return settings
    }

    /// Every value from the file and the environment fits its setting; libpq's variables are
    /// not empty when present.
    func check() throws {
        for key in SettingKey.all {
            if let value = environment[key.variable], let problem = key.problem(with: value) {
                throw FeatureStoreError(.configuration, "environment variable \(key.variable) \(problem)",
                    hint: "fix or unset it; in an environment file, quote values that hold spaces, & or other shell characters")
            }
            if let entry = file?.entries[key.key], let problem = key.problem(with: entry.value) {
                throw FeatureStoreError(.configuration, "\(key.key) in \(file!.path), line \(entry.line): \(problem)",
                    hint: "fix the value or remove the line")
            }
        }
        for name in Self.libpqVariables where environment[name] != nil && environment[name]!.isEmpty {
            throw FeatureStoreError(.configuration, "environment variable \(name) is set but empty",
                hint: "set it or unset it; in an environment file, quote values that hold spaces, & or other shell characters")
        }
    }

    /// The value of `key` without flags: the environment, else the file, else the built-in default.
    func resolved(_ key: SettingKey) -> Resolved {
        if let value = environment[key.variable] { return Resolved(value: value, origin: .environment(key.variable)) }
        if let file, let entry = file.entries[key.key] { return Resolved(value: entry.value, origin: .file(path: file.path, line: entry.line)) }
        return Resolved(value: key.builtIn, origin: .builtIn)
    }

    /// The value of `key` with the command line's flag on top (what `config` shows).
    func effective(_ key: SettingKey) -> Resolved {
        if let value = flags[key.key] { return Resolved(value: value, origin: .flag(flagSpellings[key.key] ?? key.flag)) }
        return resolved(key)
    }

    /// The default an option starts from (its flag overrides it).
    func value<T: ExpressibleByArgument>(_ key: SettingKey, or fallback: T) -> T {
        resolved(key).value.flatMap { T(argument: $0) } ?? fallback
    }

    /// The value of an optional setting, nil when nothing sets it.
    func optional<T: ExpressibleByArgument>(_ key: SettingKey) -> T? {
        resolved(key).value.flatMap { T(argument: $0) }
    }

    func bool(_ key: SettingKey) -> Bool {
        resolved(key).value.flatMap(SettingKey.boolean) ?? false
    }

    /// The environment as the program reads it: the file's values under their variable names,
    /// with the real environment on top. Code that reads `DANSER_*` or `DATABASE_URL` from this
    /// sees the file too.
    var mergedEnvironment: [String: String] {
        var merged = environment
        for key in SettingKey.all where merged[key.variable] == nil {
            if let entry = file?.entries[key.key] { merged[key.variable] = entry.value }
        }
        return merged
    }

    /// Names where a variable's value came from, for messages: `DATABASE_URL (environment)` or
    /// `database.url (file F, line N)`.
    func describe(variable: String) -> String {
        if environment[variable] != nil { return "environment variable \(variable)" }
        if let key = SettingKey.all.first(where: { $0.variable == variable }), let file, let entry = file.entries[key.key] {
            return "\(key.key) in \(file.path), line \(entry.line)"
        }
        return variable
    }

    /// The value after `name` (`--name VALUE` or `--name=VALUE`), before a `--` terminator.
    static func flagValue(_ name: String, in arguments: [String]) -> String? {
        var found: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == name, index + 1 < arguments.count {
                found = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix(name + "=") {
                found = String(argument.dropFirst(name.count + 1))
            }
            index += 1
        }
        return found
    }

    // MARK: The process's settings

    private static let loaded = Mutex<Settings?>(nil)

    /// Loads the process's settings once, from its arguments and environment (called by `main`
    /// before the command line is parsed).
    static func loadForProcess(arguments: [String], environment: [String: String]) throws {
        let settings = try load(arguments: arguments, environment: environment)
        loaded.withLock { $0 = settings }
    }

    /// The process's settings; without `loadForProcess` (tests), the environment alone.
    static var current: Settings {
        loaded.withLock { stored in
            if let stored { return stored }
            let fallback = Settings(file: nil, environment: ProcessInfo.processInfo.environment, flags: [:])
            stored = fallback
            return fallback
        }
    }
}
