import FeatureStore
import Foundation

/// The configuration file: a small subset of TOML, enough for flat settings.
///
/// ```toml
/// # comments start with '#'
/// [source]
/// table = "analytics.clicks"     # strings in double quotes (\" and \\ escape)
/// session_column = "visit_id"
/// [audit]
/// min_sessions = 100             # numbers and true/false bare
/// ```
///
/// Every key must be a known setting (`danser-batch config` lists them); anything else is a
/// configuration error naming the file and line, so a typo never goes unnoticed.
struct SettingsFile: Sendable {
    struct Entry: Sendable {
        var value: String
        var line: Int
    }

    let path: String
    /// By `section.key`.
    let entries: [String: Entry]

    init(path: String, text: String) throws {
        self.path = path
        var entries: [String: Entry] = [:]
        var section = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = Self.strippingComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            func fail(_ what: String) -> FeatureStoreError {
                FeatureStoreError(.configuration, "configuration file \(path), line \(number): \(what)",
                    hint: "see danser-batch config for the known settings; values in double quotes, numbers and true/false bare")
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("a section header must end with ]") }
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                guard !section.isEmpty, section.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw fail("'\(section)' is not a section name")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected key = value") }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            let key = section.isEmpty ? name : "\(section).\(name)"
            guard SettingKey.all.contains(where: { $0.key == key }) else { throw fail("unknown setting '\(key)'") }
            guard entries[key] == nil else { throw fail("'\(key)' is set twice (first on line \(entries[key]!.line))") }
            let value = try Self.value(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)) { fail($0) }
            entries[key] = Entry(value: value, line: number)
        }
        self.entries = entries
    }

    /// Reads the file at `path`; an unreadable file is a configuration error naming it.
    static func load(path: String) throws -> SettingsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FeatureStoreError(.configuration, "cannot read the configuration file \(path)",
                hint: "create it, fix its permissions, or point --config-file / DANSER_CONFIG at another file")
        }
        return try SettingsFile(path: path, text: String(decoding: data, as: UTF8.self))
    }

    /// A quoted string (with `\"` and `\\`), or a bare word (number, true/false).
    private static func value(_ text: String, fail: (String) -> FeatureStoreError) throws -> String {
        guard text.hasPrefix("\"") else {
            guard !text.isEmpty else { throw fail("the value is missing (write \"\" for an empty string)") }
            guard !text.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" }) else {
                throw fail("put text values in double quotes")
            }
            return text
        }
        var result = ""
        var escaped = false
        var closed = false
        for character in text.dropFirst() {
            if closed { throw fail("unexpected text after the closing quote") }
            if escaped {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                closed = true
            } else {
                result.append(character)
            }
        }
        guard closed else { throw fail("the quoted value is not closed") }
        return result
    }

    /// The line without a `#` comment (a `#` inside double quotes stays).
    private static func strippingComment(_ line: String) -> String {
        var inQuotes = false
        var escaped = false
        for index in line.indices {
            let character = line[index]
            if escaped { escaped = false; continue }
            if character == "\\" && inQuotes { escaped = true; continue }
            if character == "\"" { inQuotes.toggle() }
            if character == "#" && !inQuotes { return String(line[..<index]) }
        }
        return line
    }
}
