/// An operator's change of the registry (promote, rollback, retire), planned from how the
/// registry looks and applied as a compare-and-swap: it changes the registry only if the champion
/// and every model it touches are still as planned. Applied again after its commit landed (a
/// retry whose acknowledgement was lost), it finds the registry already as planned and changes
/// nothing, so a rollback never rolls back twice.
public struct RegistryPlan: Sendable, Equatable {
    /// One model's status change, with the reason written to its `gate_reason`.
    public struct Step: Sendable, Equatable {
        public var version: Int64
        public var from: ModelStatus
        public var to: ModelStatus
        public var note: String

        public init(version: Int64, from: ModelStatus, to: ModelStatus, note: String) {
            self.version = version
            self.from = from
            self.to = to
            self.note = note
        }
    }

    public var change: RegistryChange
    /// The champion the plan was made against (the compare half).
    public var championBefore: Int64?
    /// The champion once applied.
    public var championAfter: Int64?
    /// In the order they run (a champion steps down before another steps up).
    public var steps: [Step]

    public init(change: RegistryChange, championBefore: Int64?, championAfter: Int64?, steps: [Step]) {
        self.change = change
        self.championBefore = championBefore
        self.championAfter = championAfter
        self.steps = steps
    }

    public enum Outcome: Sendable, Equatable {
        case applied
        /// The registry was already as planned (a retry after the change had committed).
        case alreadyApplied
        /// The registry changed since the plan was made; nothing was changed. Says how.
        case conflict(String)
    }
}

extension ModelRegistry {
    /// Applies `plan` in one transaction (the caller's, if any), under row locks on the champion
    /// and the models it changes, recording each step in the registry's history.
    public func apply(_ plan: RegistryPlan, on connection: Connection) throws -> RegistryPlan.Outcome {
        var outcome = RegistryPlan.Outcome.applied
        try changing(plan.change, on: connection) { connection in
            let championRows = try connection.query("SELECT model_version FROM danser.models WHERE status = 'champion' FOR UPDATE")
            let champion = championRows.rowCount == 0 ? nil : try championRows.int64(0, 0)
            var current: [Int64: ModelStatus] = [:]
            for step in plan.steps {
                let row = try connection.query("SELECT status FROM danser.models WHERE model_version = $1 FOR UPDATE", [.int64(step.version)])
                if row.rowCount == 1 { current[step.version] = try row.decode(0, 0) }
            }
            if champion == plan.championAfter && plan.steps.allSatisfy({ current[$0.version] == $0.to }) {
                outcome = .alreadyApplied
                return
            }
            var differences: [String] = []
            if champion != plan.championBefore {
                differences.append("the champion is \(champion.map { "model \($0)" } ?? "none"), not \(plan.championBefore.map { "model \($0)" } ?? "none")")
            }
            for step in plan.steps where current[step.version] != step.from {
                differences.append("model \(step.version) is \(current[step.version].map(\.rawValue) ?? "gone"), not \(step.from)")
            }
            guard differences.isEmpty else {
                outcome = .conflict(differences.joined(separator: "; "))
                return
            }
            for step in plan.steps {
                let updated = try connection.query(
                    "UPDATE danser.models SET status = $3, gate_reason = $4 WHERE model_version = $1 AND status = $2",
                    [.int64(step.version), .text(step.from.rawValue), .text(step.to.rawValue), .text(step.note)])
                guard updated.affectedRows == 1 else {
                    throw FeatureStoreError(.queryFailed, "model \(step.version) changed while being updated")
                }
            }
        }
        return outcome
    }
}
