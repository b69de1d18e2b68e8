import Foundation
import Testing
@testable import DANSeR

/// Synthetic sessions with learnable structure (each item tends to be followed by the next),
/// and a small configuration, so these tests stay fast in debug builds.
enum Toy {
    static let itemCount = 40

    static var configuration: ModelConfiguration {
        var c = ModelConfiguration.srgnn
        c.hiddenSize = 8
        c.batchSize = 16
        c.decayStep = 1
        c.decayRate = 0.5
        return c
    }

    static func sessions(count: Int, seed: UInt64) -> [Session] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in
            let length = 2 + Int(random.next() % 6)
            var item = Int32(1 + random.next() % UInt64(itemCount))
            var session: Session = []
            for _ in 0..<length {
                session.append(item)
                item = random.next() % 4 == 0 ? Int32(1 + random.next() % UInt64(itemCount)) : item % Int32(itemCount) + 1
            }
            return session
        }
    }

    static let training = PrefixSet(sessions: sessions(count: 120, seed: 1))
    static let test = PrefixSet(sessions: sessions(count: 40, seed: 2))
}

@Suite struct TrainingTests {
    @Test func sameSeedSameResult() throws {
        func run(seed: UInt64) throws -> [Float] {
            var trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: seed, threads: 2)
            for _ in 0..<2 { _ = try trainer.trainEpoch(on: Toy.training) }
            return trainer.model.parameters
        }
        let first = try run(seed: 5)
        #expect(first == (try run(seed: 5)))
        #expect(first != (try run(seed: 6)))
    }

    @Test func lossFallsAndRankingImproves() throws {
        var trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 1, threads: 1)
        let before = Evaluator.evaluate(trainer.model, on: Toy.test)
        let first = try trainer.trainEpoch(on: Toy.training)
        var last = first
        for _ in 0..<4 { last = try trainer.trainEpoch(on: Toy.training) }
        let after = Evaluator.evaluate(trainer.model, on: Toy.test)
        #expect(last.meanLoss < first.meanLoss)
        #expect(after.precision(at: 10) > before.precision(at: 10))
    }

    /// The fused step (unnormalized softmax, blockwise embedding update) against the plain
    /// reference: full softmax gradient, dense dE, one Adam pass.
    @Test func fusedStepMatchesReference() throws {
        var configuration = Toy.configuration
        configuration.hiddenSize = 6
        var trainer = try Trainer(configuration: configuration, itemCount: 1500, seed: 3, threads: 2)
        let sessions = Toy.sessions(count: 30, seed: 9).map { $0.map { $0 * 37 % 1500 + 1 } }
        let examples = PrefixSet(sessions: sessions)
        let batch = SessionBatch(examples, indices: 0..<examples.count)
        var reference = trainer.model.parameters
        var optimizer = AdamState(parameterCount: reference.count)
        let network = trainer.model.network
        let n = trainer.model.itemCount
        for _ in 0..<3 {
            var gradients = [Float](repeating: 0, count: reference.count)
            var logits = [Float](repeating: 0, count: batch.count * n)
            reference.withUnsafeMutableBufferPointer { v in
                gradients.withUnsafeMutableBufferPointer { g in
                    logits.withUnsafeMutableBufferPointer { l in
                        let p = ParameterAccess(values: v.baseAddress!, gradients: g.baseAddress!)
                        let pass = network.forward(batch, p)
                        network.scorer.scores(pass.sessions, p, into: l.baseAddress!)
                        _ = SoftmaxCrossEntropy.lossAndGradient(
                            logits: l.baseAddress!, rows: batch.count, columns: n, targets: batch.targets, threads: 1)
                        let ds = network.scorer.backward(
                            sessions: pass.sessions, logitGradient: l.baseAddress!, p, accumulate: true)
                        network.backward(pass, sessionGradient: ds, batch: batch, p)
                        optimizer.update(
                            values: v.baseAddress!, gradients: g.baseAddress!, learningRate: 1e-2, l2: configuration.l2, threads: 1)
                    }
                }
            }
            _ = trainer.step(batch, learningRate: 1e-2)
        }
        let fused = trainer.model.parameters
        let worst = zip(fused, reference).map { abs($0 - $1) / max(1e-3, abs($1)) }.max()!
        #expect(worst < 1e-3, "largest relative difference \(worst)")
        #expect(trainer.optimizer.step == optimizer.step)
    }

    /// No information crosses sessions: batch size and order do not change the figures.
    @Test func evaluationDoesNotDependOnBatchSizeOrOrder() throws {
        var trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 2, threads: 1)
        _ = try trainer.trainEpoch(on: Toy.training)
        let model = trainer.model
        let reference = Evaluator.evaluate(model, on: Toy.test, batchSize: 1)
        var random = RandomSource(seed: 4)
        let shuffled = Array(0..<Toy.test.count).shuffled(using: &random)
        for batchSize in [3, 16, 100, 1000] {
            #expect(Evaluator.evaluate(model, on: Toy.test, batchSize: batchSize) == reference)
            #expect(Evaluator.evaluate(model, on: Toy.test, indices: shuffled, batchSize: batchSize, threads: 2) == reference)
        }
        #expect(reference.count == Toy.test.count)
    }

    @Test func metricsFromRanks() {
        var result = EvaluationResult(cutoffs: [10, 20])
        for rank in [0, 4, 15, 30] { result.record(rank: rank) }
        #expect(result.precision(at: 20) == 0.75)
        #expect(result.precision(at: 10) == 0.5)
        #expect(abs(result.reciprocalRank(at: 20) - (1 + 0.2 + 1 / 16.0) / 4) < 1e-12)
        #expect(abs(result.reciprocalRank(at: 10) - (1 + 0.2) / 4) < 1e-12)
        #expect(abs(result.ndcg(at: 10) - (1 + 1 / log2(6.0)) / 4) < 1e-12)
    }

    @Test func nonFiniteLossStopsWithEpochAndBatch() throws {
        var trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 1)
        let slot = trainer.model.layout.slots.first { $0.name == "readout.transform.bias" }!
        trainer.model.parameters[slot.offset] = .nan
        do {
            _ = try trainer.trainEpoch(on: Toy.training)
            Issue.record("expected a non-finite loss error")
        } catch {
            #expect(error.code == .nonFiniteLoss)
            #expect(error.message.contains("epoch 1, batch 1 of"))
        }
        #expect(trainer.completedEpochs == 0)
    }

    @Test func progressCallbackCancels() throws {
        var trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 1)
        var calls = 0
        do {
            _ = try trainer.trainEpoch(on: Toy.training) { _ in
                calls += 1
                return calls < 2
            }
            Issue.record("expected cancellation")
        } catch {
            #expect(error.code == .cancelled)
        }
        #expect(calls == 2)
    }

    @Test func learningRateSchedule() throws {
        let trainer = try Trainer(configuration: .srgnn, itemCount: 3, seed: 1)
        #expect(trainer.learningRate(epoch: 0) == 1e-3)
        #expect(trainer.learningRate(epoch: 2) == 1e-3)
        #expect(abs(trainer.learningRate(epoch: 3) - 1e-4) < 1e-10)
        #expect(abs(trainer.learningRate(epoch: 6) - 1e-5) < 1e-11)
    }
}

@Suite struct CheckpointTests {
    @Test func roundTripAndExactResume() throws {
        var straight = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 8, threads: 2)
        for _ in 0..<3 { _ = try straight.trainEpoch(on: Toy.training) }

        var first = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 8, threads: 2)
        _ = try first.trainEpoch(on: Toy.training)
        let bytes = Checkpoint(first).encoded()
        let restored = try Checkpoint(decoding: bytes)
        #expect(restored.completedEpochs == 1)
        #expect(restored.configuration == Toy.configuration)
        var resumed = try restored.makeTrainer(expecting: Toy.configuration, itemCount: Toy.itemCount, threads: 2)
        #expect(resumed.model.parameters == first.model.parameters)
        #expect(resumed.optimizer == first.optimizer)
        for _ in 0..<2 { _ = try resumed.trainEpoch(on: Toy.training) }
        #expect(resumed.model.parameters == straight.model.parameters)
        #expect(resumed.completedEpochs == 3)
    }

    static func bytes() throws -> Data {
        let trainer = try Trainer(configuration: Toy.configuration, itemCount: Toy.itemCount, seed: 8)
        return Checkpoint(trainer).encoded()
    }

    @Test func corruptCheckpointIsAClearError() throws {
        var data = try Self.bytes()
        data[data.count / 2] ^= 0x01
        #expect(throws: DANSeRError(.corruptCheckpoint, "the checkpoint is damaged (checksum mismatch: truncated or altered); use another checkpoint or train from scratch")) {
            try Checkpoint(decoding: data)
        }
        let truncated = try Self.bytes().prefix(1000)
        do {
            _ = try Checkpoint(decoding: Data(truncated))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .corruptCheckpoint)
        }
        do {
            _ = try Checkpoint(decoding: Data("not a checkpoint at all, just some text".utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .corruptCheckpoint)
        }
    }

    @Test func otherFormatVersionIsAClearError() throws {
        var data = try Self.bytes()
        data[8] = 2  // the version field follows the 8-byte signature
        do {
            _ = try Checkpoint(decoding: data)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .checkpointVersion)
            #expect(error.message.contains("version 2"))
        }
    }

    @Test func mismatchedConfigurationOrItemsIsAClearError() throws {
        let checkpoint = try Checkpoint(decoding: try Self.bytes())
        var other = Toy.configuration
        other.hiddenSize = 9
        #expect(throws: DANSeRError.self) {
            try checkpoint.makeTrainer(expecting: other, itemCount: Toy.itemCount, threads: 1)
        }
        do {
            _ = try checkpoint.makeTrainer(expecting: Toy.configuration, itemCount: Toy.itemCount + 1, threads: 1)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .checkpointMismatch)
        }
    }
}
