@testable import DANSeR

/// Finite-difference gradient checking for the hand-written backward passes: central
/// differences on every parameter and input, compared with a mixed tolerance
/// |a - n| <= absolute + relative * max(|a|, |n|).
struct GradientCheck {
    var step: Float = 1e-2
    var relative: Double = 2e-2
    var absolute: Double = 2e-3

    /// The first mismatch, or nil: `analytic[i]` against d loss / d values[i].
    func firstMismatch(
        values: inout [Float], analytic: [Float], indices: some Sequence<Int>, loss: ([Float]) -> Double
    ) -> String? {
        for i in indices {
            let saved = values[i]
            values[i] = saved + step
            let up = loss(values)
            values[i] = saved - step
            let down = loss(values)
            values[i] = saved
            let numeric = (up - down) / (2 * Double(step))
            let a = Double(analytic[i])
            if abs(a - numeric) > absolute + relative * max(abs(a), abs(numeric)) {
                return "index \(i): analytic \(a), numeric \(numeric)"
            }
        }
        return nil
    }
}

/// A tiny model and batch with repeats, self-loops and sessions of one click.
struct TinySetup {
    let model: Model
    let batch: SessionBatch
    var network: SessionNetwork { model.network }
    var layout: ParameterLayout { model.layout }

    init(hiddenSize: Int = 4, itemCount: Int = 7, seed: UInt64 = 3, configuration base: ModelConfiguration = .srgnn) throws {
        var configuration = base
        configuration.hiddenSize = hiddenSize
        var model = try Model(configuration: configuration, itemCount: itemCount, seed: seed)
        // Larger weights than the default init, so every nonlinearity is exercised.
        var random = RandomSource(seed: 99)
        model.parameters = model.parameters.map { $0 + random.uniform(-0.5, 0.5) }
        self.model = model
        let sessions: [[Int32]] = [[1, 2, 3, 2, 4], [5], [6, 6, 7, 1], [3, 4]]
        batch = SessionBatch(prefixes: sessions.map { $0[...] }, targets: [5, 3, 2, 7])
    }

    /// Runs `body` with parameter access over `values` and a zeroed gradient buffer; returns the gradients.
    static func withAccess<R>(_ values: inout [Float], _ body: (ParameterAccess) -> R) -> (R, [Float]) {
        var gradients = [Float](repeating: 0, count: values.count)
        let result = values.withUnsafeMutableBufferPointer { v in
            gradients.withUnsafeMutableBufferPointer { g in
                body(ParameterAccess(values: v.baseAddress!, gradients: g.baseAddress!))
            }
        }
        return (result, gradients)
    }

    /// A fixed random projection, so sum(output * weights) is a loss with a nontrivial gradient.
    static func projection(rows: Int, cols: Int, seed: UInt64) -> Matrix {
        var random = RandomSource(seed: seed)
        return Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in random.uniform(-1, 1) })
    }

    static func dot(_ a: Matrix, _ b: Matrix) -> Double {
        zip(a.storage, b.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Indices of the parameters of the slots whose names start with `prefix`.
    func indices(of prefix: String) -> [Int] {
        layout.slots.filter { $0.name.hasPrefix(prefix) }.flatMap { $0.offset..<($0.offset + $0.count) }
    }
}
