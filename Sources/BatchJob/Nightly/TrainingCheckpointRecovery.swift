import DANSeR
import FeatureStore

extension TrainingCheckpointStore {
    /// Resumes from a saved training checkpoint; one that cannot be used (corrupt, another format
    /// or shape) is reported with the command that discards it, instead of failing every rerun.
    static func resume<T>(_ asOf: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DANSeRError
            where [.corruptCheckpoint, .checkpointVersion, .checkpointMismatch].contains(error.code)
        {
            throw DANSeRError(error.code,
                "the training checkpoint an interrupted attempt saved for \(asOf) cannot be used (\(error.message)); "
                    + "discard it and train from the start with: danser-batch nightly --as-of \(asOf) --discard-checkpoint")
        }
    }
}
