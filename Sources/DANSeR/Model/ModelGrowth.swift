extension Model {
    /// The same model over a larger catalogue, for fine-tuning after new items appeared: every
    /// weight is copied by name, the embedding table keeps its rows (ids never move) and the
    /// rows of the new items `itemCount+1...newItemCount` get fresh uniform values from `seed`.
    public func growing(toItemCount newItemCount: Int, seed: UInt64) throws(DANSeRError) -> Model {
        guard newItemCount >= itemCount else {
            throw DANSeRError(
                .checkpointMismatch,
                "the catalogue would shrink from \(itemCount) to \(newItemCount) items; item ids are never removed or renumbered")
        }
        if newItemCount == itemCount { return self }
        var grown = try Model(configuration: configuration, itemCount: newItemCount, seed: seed)
        let oldSlots = Dictionary(uniqueKeysWithValues: layout.slots.map { ($0.name, $0) })
        for slot in grown.layout.slots {
            guard let old = oldSlots[slot.name], old.cols == slot.cols, old.rows <= slot.rows else {
                throw DANSeRError(.checkpointMismatch, "parameter \(slot.name) has no counterpart in the model being grown")
            }
            // Rows are contiguous, so the old rows are a prefix of the new slot.
            grown.parameters.replaceSubrange(slot.offset..<(slot.offset + old.count), with: parameters[old.offset..<(old.offset + old.count)])
        }
        // The old statistics do not cover the new items: the next training epoch recomputes them.
        grown.clearBehaviourStatistics()
        return grown
    }
}
