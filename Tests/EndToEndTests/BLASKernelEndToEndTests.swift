import Foundation
import Testing

/// OpenBLAS 0.3.21 takes some newer Xeons for a Prescott and runs sgemm at a quarter of the
/// speed. `danser-batch` then starts again with the right kernel named; a kernel the user named
/// in `OPENBLAS_CORETYPE` is kept. Read off the machine line `bench` prints first.
@Suite struct BLASKernelEndToEndTests {
    /// The kernel named in a `machine: ...` line, and the one OpenBLAS detected when it was replaced.
    static func kernels(_ run: Harness.Run) -> (kernel: String, detected: String?)? {
        guard let line = run.stdout.split(separator: "\n").first(where: { $0.hasPrefix("machine:") }),
            let start = line.range(of: "(kernel ")
        else { return nil }
        let rest = line[start.upperBound...].prefix { $0 != ")" }
        let parts = rest.components(separatedBy: "; OpenBLAS detected ")
        return (parts[0], parts.count > 1 ? parts[1] : nil)
    }

    /// `bench`'s kernels alone, with `OPENBLAS_CORETYPE` set to `coreType` or not set at all.
    static func bench(coreType: String?) throws -> Harness.Run {
        try Harness.run(
            ["bench", "--repetitions", "1", "--clicks", "/nonexistent/clicks.csv"], database: nil,
            environment: coreType.map { ["OPENBLAS_CORETYPE": $0] } ?? [:],
            unset: ["OPENBLAS_CORETYPE", "DANSER_BATCH_BLAS_DETECTED"])
    }

    static let fallbacks: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood", "banias",
        "sandybridge", "generic",
    ]

    static var cpuHasAVX2: Bool {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " "))
        return set.contains("avx2") && set.contains("fma")
    }

    @Test(.enabled(if: cpuHasAVX2, "needs a CPU with AVX2 and FMA"))
    func anAVX2MachineNeverRunsAFallbackKernel() throws {
        let run = try Self.bench(coreType: nil)
        #expect(run.status == 0, "\(run.stdout)")
        let found = try #require(Self.kernels(run), "\(run.stdout)")
        #expect(!Self.fallbacks.contains(found.kernel.lowercased()), "\(run.stdout)")
        if let detected = found.detected { #expect(Self.fallbacks.contains(detected.lowercased()), "\(run.stdout)") }
    }

    @Test func aKernelTheUserNamesIsKept() throws {
        let run = try Self.bench(coreType: "Prescott")
        #expect(run.status == 0, "\(run.stdout)")
        let found = try #require(Self.kernels(run), "\(run.stdout)")
        #expect(found.kernel == "Prescott" && found.detected == nil, "\(run.stdout)")
    }
}
