/// The one error type of the DANSeR module: a code, a message a person can act on.
public struct DANSeRError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure; extensible, so callers match on known codes only.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let invalidConfiguration = Code(name: "invalid configuration")
        public static let notImplemented = Code(name: "not implemented")
        public static let datasetTooSmall = Code(name: "dataset too small")
        public static let overMemoryBudget = Code(name: "over memory budget")
        public static let emptyTestWindow = Code(name: "empty test window")
        public static let nonFiniteLoss = Code(name: "non-finite loss")
        public static let corruptCheckpoint = Code(name: "corrupt checkpoint")
        public static let checkpointVersion = Code(name: "unsupported checkpoint version")
        public static let checkpointMismatch = Code(name: "checkpoint does not match")
        public static let cancelled = Code(name: "cancelled")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
