import FeatureStore
import Foundation

/// Small JSON helpers for the ledger's jsonb columns: sorted keys so equal values give equal text.
enum JSON {
    static func encode(_ object: [String: Any]) -> String {
        let object = object.mapValues(plain)
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

/// A value written to JSON as its text (the statuses), so a status enum can stand in a JSON
/// object as its string did.
protocol JSONText { var jsonText: String { get } }
extension RunStatus: JSONText { var jsonText: String { rawValue } }
extension ModelStatus: JSONText { var jsonText: String { rawValue } }
extension ModelMode: JSONText { var jsonText: String { rawValue } }

extension JSON {
    /// `value` with every `JSONText` inside it replaced by its text.
    static func plain(_ value: Any) -> Any {
        switch value {
        case let text as any JSONText: return text.jsonText
        case let object as [String: Any]: return object.mapValues(plain)
        case let array as [Any]: return array.map(plain)
        default: return value
        }
    }
}
