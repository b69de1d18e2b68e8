import Foundation

/// Small JSON helpers for the ledger's jsonb columns: sorted keys so equal values give equal text.
enum JSON {
    static func encode(_ object: [String: Any]) -> String {
        guard JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func encode(_ counts: [String: Int]) -> String { encode(counts as [String: Any]) }
    static func encode(_ values: [String: Double]) -> String { encode(values.mapValues { $0.isFinite ? $0 : 0 } as [String: Any]) }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decodeObject(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
}
