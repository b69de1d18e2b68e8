import DANSeR
import Foundation

/// What a benchmark ran on: CPU model, the widest SIMD level it offers, cores, the BLAS build and
/// its kernel, and the threads used. Printed first by every benchmark, so that figures from
/// different machines are never compared blind.
struct MachineDescription: CustomStringConvertible {
    var cpu: String
    var simd: String
    var cores: Int
    var blas: String
    var threads: Int

    static func current(threads: Int) -> MachineDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return MachineDescription(
            cpu: field("model name", in: cpuinfo) ?? field("Model", in: cpuinfo) ?? "unknown CPU",
            simd: simdLevel(flags: field("flags", in: cpuinfo) ?? field("Features", in: cpuinfo) ?? ""),
            cores: ProcessInfo.processInfo.activeProcessorCount,
            blas: BLAS.buildDescription,
            threads: threads)
    }

    var description: String {
        "machine: \(cpu), \(simd), \(cores) cores; BLAS: \(blas); \(threads) threads"
    }

    /// The first `name : value` line of /proc/cpuinfo.
    static func field(_ name: String, in cpuinfo: String) -> String? {
        for line in cpuinfo.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The widest vector extension among the CPU flags.
    static func simdLevel(flags: String) -> String {
        let set = Set(flags.split(separator: " ").map(String.init))
        for level in ["avx512f", "avx2", "avx", "sse4_2", "asimd", "neon"] where set.contains(level) {
            return level == "avx512f" ? "AVX-512" : level.uppercased().replacingOccurrences(of: "_", with: ".")
        }
        return "no SIMD flags found"
    }
}
