import Foundation
import Testing

@testable import DANSeR

/// The contenders on hand-made sessions whose scores follow from each paper's formula by hand.
@Suite struct ContenderTests {
    let training: [Session] = [[1, 2, 3], [4, 5], [1, 4, 6]]
    let day: Int64 = 86_400_000_000

    private func expectClose(_ actual: [Int32: Float], _ expected: [Int32: Float], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(actual.keys) == Set(expected.keys), sourceLocation: sourceLocation)
        for (item, value) in expected {
            #expect(abs((actual[item] ?? .nan) - value) < 1e-5, "item \(item)", sourceLocation: sourceLocation)
        }
    }

    @Test func vsknnWeightsPositionsAndDecaysVotes() {
        // Prefix [1, 4]: w(1) = 1/2, w(4) = 1; sims 0.25, 0.5, 0.75; decays 1/2, 1, 1.
        let model = VSKNN(training: training, itemCount: 6, parameters: .init(neighbours: 10, sampleSize: 10, idfWeight: 0))
        expectClose(model.scores(for: [1, 4]), [1: 0.875, 2: 0.125, 3: 0.125, 4: 1.25, 5: 0.5, 6: 0.75])
        #expect(model.recommend([1, 4], k: 3).map(\.item) == [4, 1, 6])
        // Two neighbours: sessions 2 and 1; items 1 and 6 tie and rank by id.
        let two = VSKNN(training: training, itemCount: 6, parameters: .init(neighbours: 2, sampleSize: 10, idfWeight: 0))
        expectClose(two.scores(for: [1, 4]), [1: 0.75, 4: 1.25, 5: 0.5, 6: 0.75])
        #expect(two.recommend([1, 4], k: 4).map(\.item) == [4, 1, 6, 5])
    }

    @Test func vsknnIDFAndRecencySampling() {
        let idf = VSKNN(training: training, itemCount: 6, parameters: .init(neighbours: 10, sampleSize: 10, idfWeight: 1))
        #expect(abs(idf.scores(for: [1, 4])[6]! - 0.75 * (1 + log(3))) < 1e-5)
        #expect(abs(idf.scores(for: [1, 4])[1]! - 0.875 * (1 + log(1.5))) < 1e-5)
        // Sampling one candidate: only the most recent session sharing an item (session 2) votes.
        let sampled = VSKNN(training: training, itemCount: 6, parameters: .init(neighbours: 10, sampleSize: 1, idfWeight: 0))
        expectClose(sampled.scores(for: [1, 4]), [1: 0.75, 4: 0.75, 6: 0.75])
        #expect(sampled.scores(for: [7, 0]).isEmpty)
    }

    @Test func stanFollowsItsThreeDecays() {
        let model = STAN(
            training: training, endTimes: [0, day, 2 * day], itemCount: 6,
            parameters: .init(neighbours: 10, sampleSize: 0, lambda1: 1, lambda2Days: 1, lambda3: 1))
        let e1 = Float(exp(-1.0))
        // sim = sum of w1 over shared items / sqrt(|s||n|) · exp(-age / 1 day); w1(1) = e^-1, w1(4) = 1.
        let sim0 = e1 / Float(6).squareRoot() * Float(exp(-2.0))
        let sim1 = 1 / Float(4).squareRoot() * e1
        let sim2 = (e1 + 1) / Float(6).squareRoot()
        // w3 from the shared item clicked last in the prefix: 1 in session 0, 4 in sessions 1 and 2.
        expectClose(model.scores(for: [1, 4]), [
            1: sim0 + sim2 * e1, 2: sim0 * e1, 3: sim0 * e1 * e1, 4: sim1 + sim2, 5: sim1 * e1, 6: sim2 * e1,
        ])
        // One neighbour: the most similar, session 2.
        let one = STAN(
            training: training, endTimes: [0, day, 2 * day], itemCount: 6,
            parameters: .init(neighbours: 1, sampleSize: 0, lambda1: 1, lambda2Days: 1, lambda3: 1))
        expectClose(one.scores(for: [1, 4]), [1: sim2 * e1, 4: sim2, 6: sim2 * e1])
    }

    @Test func sequentialRulesWeighByDistanceAndWindow() {
        let sessions: [Session] = [[1, 2, 3], [1, 3]]
        let rules = SequentialRules(training: sessions, itemCount: 3, parameters: .init(steps: 10, pruning: 0, window: 1))
        expectClose(rules.scores(for: [2, 1]), [3: 1.5, 2: 1])
        let window = SequentialRules(training: sessions, itemCount: 3, parameters: .init(steps: 10, pruning: 0, window: 2))
        expectClose(window.scores(for: [2, 1]), [3: 2, 2: 1])
        let near = SequentialRules(training: sessions, itemCount: 3, parameters: .init(steps: 1, pruning: 0, window: 1))
        expectClose(near.scores(for: [1]), [2: 1, 3: 1])
        let pruned = SequentialRules(training: sessions, itemCount: 3, parameters: .init(steps: 10, pruning: 1, window: 1))
        #expect(pruned.rules(from: 1).map(\.item) == [3])
        #expect(rules.scores(for: [3]).isEmpty)
    }

    /// The rows of X, S and T (with their weights) as the SLIST comment defines them, built naively.
    private func slistRows(_ sessions: [Session], n: Int, decay: Double) -> (x: [[Double]], s: [[Double]], t: [[Double]]) {
        var x: [[Double]] = [], s: [[Double]] = [], t: [[Double]] = []
        for session in sessions {
            var row = [Double](repeating: 0, count: n)
            for item in session { row[Int(item) - 1] = 1 }
            x.append(row)
            for cut in 0..<(session.count - 1) {
                var source = [Double](repeating: 0, count: n), target = [Double](repeating: 0, count: n)
                for k in 0...cut { source[Int(session[k]) - 1] = max(source[Int(session[k]) - 1], exp(-Double(cut - k) / decay)) }
                for k in (cut + 1)..<session.count {
                    target[Int(session[k]) - 1] = max(target[Int(session[k]) - 1], exp(-Double(k - cut - 1) / decay))
                }
                s.append(source)
                t.append(target)
            }
        }
        return (x, s, t)
    }

    private func gram(_ a: [[Double]], _ b: [[Double]], n: Int) -> [[Double]] {
        var g = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for (ra, rb) in zip(a, b) { for i in 0..<n { for j in 0..<n { g[i][j] += ra[i] * rb[j] } } }
        return g
    }

    @Test func slistSolvesItsNormalEquations() throws {
        let sessions: [Session] = [[1, 2, 3], [2, 3], [1, 3, 4], [4, 2], [3, 4, 1, 2]]
        let n = 4, alpha = 0.5, lambda = 2.0
        let model = try SLIST(
            training: sessions, itemCount: n,
            parameters: .init(alpha: Float(alpha), lambda: Float(lambda), positionDecay: 2, inferenceDecay: 1, diagonalLimit: 1e9),
            threads: 2)
        // Scoring a single item gives its row of B.
        let b = (1...n).map { i in (1...n).map { j in Double(model.scores(for: [Int32(i)])[Int32(j)]!) } }
        let (x, s, t) = slistRows(sessions, n: n, decay: 2)
        let xx = gram(x, x, n: n), ss = gram(s, s, n: n), st = gram(s, t, n: n)
        // (alpha XᵀX + (1 - alpha) SᵀS + lambda I) B = alpha XᵀX + (1 - alpha) SᵀT
        for i in 0..<n {
            for j in 0..<n {
                var left = 0.0
                for k in 0..<n { left += (alpha * xx[i][k] + (1 - alpha) * ss[i][k] + (i == k ? lambda : 0)) * b[k][j] }
                let right = alpha * xx[i][j] + (1 - alpha) * st[i][j]
                #expect(abs(left - right) < 1e-3, "row \(i) column \(j): \(left) vs \(right)")
            }
        }
    }

    @Test func slisWithZeroDiagonalIsEASE() throws {
        let sessions: [Session] = [[1, 2, 3], [2, 3], [1, 3, 4], [4, 2], [3, 4, 1, 2]]
        let n = 4, lambda = 1.0
        let model = try SLIST(training: sessions, itemCount: n, parameters: .init(alpha: 1, lambda: Float(lambda)), threads: 1)
        let b = (1...n).map { i in (1...n).map { j in Double(model.scores(for: [Int32(i)])[Int32(j)]!) } }
        // EASE: B = I - P·diag(1 / diag P), P = (XᵀX + lambda I)⁻¹, inverted here by Gauss-Jordan.
        let x = slistRows(sessions, n: n, decay: 1).x
        var a = gram(x, x, n: n)
        for i in 0..<n { a[i][i] += lambda }
        var p = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0 } }
        for column in 0..<n {
            let pivot = a[column][column]
            for k in 0..<n { a[column][k] /= pivot; p[column][k] /= pivot }
            for row in 0..<n where row != column {
                let factor = a[row][column]
                for k in 0..<n { a[row][k] -= factor * a[column][k]; p[row][k] -= factor * p[column][k] }
            }
        }
        for i in 0..<n {
            for j in 0..<n {
                let expected = i == j ? 0 : -p[i][j] / p[j][j]
                #expect(abs(b[i][j] - expected) < 1e-4, "B[\(i)][\(j)] = \(b[i][j]), EASE gives \(expected)")
            }
        }
    }

    @Test func slistRefusesACatalogueOverItsBudgetAndSaysWhatItNeeds() throws {
        let sessions: [Session] = [[1, 2, 3], [2, 3], [3, 2], [4, 3]]
        // Four clicked items need two 4 x 4 float matrices: 128 bytes.
        let model = try SLIST(training: sessions, itemCount: 5, parameters: .init(memoryBudgetBytes: 128))
        #expect(model.keptItems == [1, 2, 3, 4])
        #expect(Set(model.scores(for: [1, 2]).keys).isSubset(of: [1, 2, 3, 4]))
        do {
            _ = try SLIST(training: sessions, itemCount: 5, parameters: .init(memoryBudgetBytes: 127))
            Issue.record("a catalogue over the budget was fitted")
        } catch {
            #expect(error.code == .overMemoryBudget)
            #expect(error.message.contains("4 x 4"))
            #expect(error.message.contains("0.0 GiB"))
        }
    }

    @Test func evaluationRanksTiesAgainstTheTargetAndSplitsAcrossThreads() {
        let rules = SequentialRules(training: [[1, 2], [1, 3]], itemCount: 3, parameters: .init(pruning: 0))
        // After 1, items 2 and 3 tie: 2 ranks first, 3 second.
        let result = rules.evaluate(on: PrefixSet(sessions: [[1, 2], [1, 3], [2, 1]]), cutoffs: [1, 20])
        #expect(result.count == 3)
        #expect(result.precision(at: 1) == 1.0 / 3.0)
        #expect(result.precision(at: 20) == 2.0 / 3.0)
        let model = VSKNN(training: training, itemCount: 6)
        let sessions: [Session] = [[1, 2, 3], [4, 5, 1], [2, 4], [6, 1, 4, 5]]
        let one = model.evaluate(on: PrefixSet(sessions: sessions), threads: 1)
        let two = model.evaluate(on: PrefixSet(sessions: sessions), threads: 3)
        #expect(one == two)
    }

    @Test func contestSkipsWhatCannotBeFittedAndTunesOnValidation() {
        // Session i clicks a, a + 1, a + 2 (mod 5, from 1), a = i mod 5: the next item always follows.
        var sessions: [Session] = []
        var endTimes: [Int64] = []
        for index in 0..<40 {
            let first = Int32(index % 5)
            sessions.append([first % 5 + 1, (first + 1) % 5 + 1, (first + 2) % 5 + 1])
            endTimes.append(Int64(index) * day / 4)
        }
        let grids: [[ContenderSetting]] = [
            [.sr(.init(steps: 1, pruning: 0)), .sr(.init(steps: 2, pruning: 0))],
            [.slist(.init(memoryBudgetBytes: 8))],
        ]
        let entries = ContenderContest.run(
            grids: grids, training: sessions, endTimes: endTimes, itemCount: 5,
            heldOut: PrefixSet(sessions: [[1, 2, 3], [3, 4, 5]]), validation: .days(2), threads: 2)
        #expect(entries.count == 2)
        #expect(entries[0].tuning.count == 2)
        #expect(entries[0].heldOut?.result.precision(at: 20) == 1)
        #expect(entries[1].heldOut == nil)
        #expect(entries[1].skipped?.contains("memory budget") == true)
        #expect(entries[1].skippedCode == .overMemoryBudget)
    }
}
