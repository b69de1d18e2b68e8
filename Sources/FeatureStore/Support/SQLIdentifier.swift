/// SQL identifiers that come from configuration (table and column names) are validated
/// and quoted, never pasted into SQL as given.
public enum SQLIdentifier {
    /// True for `name` or `schema.name` made of letters, digits and underscores, not
    /// starting with a digit, each part at most 63 bytes.
    public static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            guard let first = part.utf8.first, part.utf8.count <= 63 else { return false }
            let isLetter = { (b: UInt8) in (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95 }
            return isLetter(first) && part.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
        }
    }

    /// Double-quotes each part; throws for an invalid name.
    public static func quoted(_ name: String) throws -> String {
        guard isValid(name) else {
            throw FeatureStoreError(.configuration, "\"\(name.prefix(80))\" is not a valid SQL identifier",
                hint: "use letters, digits and underscores, optionally schema.name")
        }
        return name.split(separator: ".").map { quote(String($0)) }.joined(separator: ".")
    }

    /// Quotes one identifier part (doubling inner quotes).
    public static func quote(_ part: String) -> String {
        "\"" + part.replacingAll("\"", with: "\"\"") + "\""
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
