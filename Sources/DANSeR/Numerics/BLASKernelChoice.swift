internal import CBLAS

/// OpenBLAS picks its kernels for the CPU when it loads. Release 0.3.21 does not know some newer
/// Xeons (they report a plain "Intel(R) Xeon(R) Processor") and falls back to its Prescott (SSE3)
/// kernels, whose sgemm runs at a quarter of the AVX-512 one. This names the kernel the CPU's
/// features call for when the one chosen is such a fallback; the process then starts again
/// with `OPENBLAS_CORETYPE` set (`DanserBatch.restartIfBLASKernelIsAFallback`).
public enum BLASKernelChoice {
    /// The environment variable that records the kernel OpenBLAS chose itself before the restart.
    public static let detectedVariable = "DANSER_BATCH_BLAS_DETECTED"

    /// Kernels OpenBLAS falls back to for CPUs it does not recognise: none of them uses AVX2.
    static let fallbacks: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
        "northwood", "banias", "sandybridge", "generic",
    ]

    /// The kernel to ask for instead of `core` on a CPU with `flags` (from /proc/cpuinfo) and
    /// `vendor`: "SkylakeX" on an Intel CPU with AVX-512, "Haswell" with AVX2 and FMA; nil when
    /// `core` is not a fallback or the CPU has neither.
    public static func correction(core: String, flags: Set<String>, vendor: String) -> String? {
        guard isFallback(core) else { return nil }
        let avx512: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        if vendor == "GenuineIntel", avx512.isSubset(of: flags) { return "SkylakeX" }
        if flags.contains("avx2"), flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// Whether `core` is one of OpenBLAS's fallback kernels.
    public static func isFallback(_ core: String) -> Bool { fallbacks.contains(core.lowercased()) }

    /// The kernel OpenBLAS chose for this process.
    public static var detectedCore: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }
}
