extension Model {
    /// The item embedding table, (itemCount + 1) x d row-major with row 0 the padding row:
    /// what the feature store publishes for each model version.
    public var itemEmbeddings: (table: [Float], rows: Int, dim: Int) {
        guard let slot = layout.slots.first(where: { $0.name == "embedding" }) else {
            preconditionFailure("every model has an embedding table")
        }
        return (Array(parameters[slot.offset..<(slot.offset + slot.count)]), slot.rows, slot.cols)
    }
}
