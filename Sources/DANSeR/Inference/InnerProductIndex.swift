internal import CFaiss

/// An approximate maximum-inner-product index over item vectors: FAISS's inverted file (IVF-Flat).
/// k-means splits the vectors into `lists` cells; a query scans only the `probes` cells whose
/// centroids score highest, and returns exact inner products for what it scans.
public final class InnerProductIndex: @unchecked Sendable {
    // One owner frees the handle; searches only read it, so several threads may search at once.
    private let handle: OpaquePointer
    public let count: Int
    public let dimension: Int
    public let lists: Int

    /// Builds the index over `count` row-major vectors of `dimension` floats, ids 0..<count.
    /// Training samples at most `trainingPointsPerList` vectors per cell, with a fixed seed.
    public init(
        vectors: [Float], count: Int, dimension: Int, lists: Int, trainingPointsPerList: Int = 64, seed: Int = 1,
        threads: Int = 1
    ) throws(DANSeRError) {
        precondition(vectors.count == count * dimension, "count x dimension floats")
        guard lists >= 1, count >= lists else {
            throw DANSeRError(
                .invalidConfiguration,
                "an approximate index of \(count) items cannot have \(lists) lists; use at most one list per item")
        }
        var message = [CChar](repeating: 0, count: 512)
        let made = vectors.withUnsafeBufferPointer { vp in
            cfaiss_ivf_build(
                Int32(dimension), Int64(count), vp.baseAddress, Int32(lists), Int32(trainingPointsPerList),
                Int32(seed), Int32(threads), &message, message.count)
        }
        guard let made else {
            throw DANSeRError(.invalidConfiguration, "FAISS could not build the index: \(Self.text(message))")
        }
        handle = made
        self.count = count
        self.dimension = dimension
        self.lists = lists
    }

    deinit { cfaiss_ivf_free(handle) }

    /// The `k` best ids and inner products for each of `queryCount` row-major queries, best first;
    /// fewer than `k` where the probed cells hold fewer vectors. Runs on the calling thread.
    public func search(_ queries: [Float], queryCount: Int, k: Int, probes: Int) throws(DANSeRError) -> [[(id: Int, score: Float)]] {
        precondition(queries.count == queryCount * dimension, "queryCount x dimension floats")
        guard queryCount > 0, k > 0 else { return Array(repeating: [], count: queryCount) }
        var scores = [Float](repeating: 0, count: queryCount * k)
        var ids = [Int64](repeating: -1, count: queryCount * k)
        var message = [CChar](repeating: 0, count: 512)
        let status = queries.withUnsafeBufferPointer { qp in
            cfaiss_ivf_search(
                handle, Int64(queryCount), qp.baseAddress, Int32(k), Int32(min(probes, lists)), &scores, &ids,
                &message, message.count)
        }
        guard status == 0 else {
            throw DANSeRError(.invalidConfiguration, "FAISS search failed: \(Self.text(message))")
        }
        return (0..<queryCount).map { row in
            (0..<k).compactMap { column in
                let id = ids[row * k + column]
                return id < 0 ? nil : (Int(id), scores[row * k + column])
            }
        }
    }

    private static func text(_ message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
