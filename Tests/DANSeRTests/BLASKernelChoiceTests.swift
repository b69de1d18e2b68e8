import Testing
@testable import DANSeR

/// Which OpenBLAS kernels count as a misdetection, and what replaces them.
@Suite struct BLASKernelChoiceTests {
    static let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    @Test func aFallbackKernelOnAnAVX512XeonBecomesSkylakeX() {
        #expect(BLASKernelChoice.correction(core: "Prescott", flags: Self.avx512, vendor: "GenuineIntel") == "SkylakeX")
        #expect(BLASKernelChoice.correction(core: "Core2", flags: Self.avx512, vendor: "GenuineIntel") == "SkylakeX")
    }

    /// AMD's AVX-512 is left to the AVX2 kernels, which run on every such CPU.
    @Test func aFallbackOnOtherAVX2CPUsBecomesHaswell() {
        #expect(BLASKernelChoice.correction(core: "Prescott", flags: Self.avx512, vendor: "AuthenticAMD") == "Haswell")
        #expect(BLASKernelChoice.correction(core: "SandyBridge", flags: ["avx", "avx2", "fma"], vendor: "GenuineIntel") == "Haswell")
    }

    @Test func aKernelChosenForTheCPUIsKept() {
        for core in ["Haswell", "SkylakeX", "Zen", "CooperLake", "SapphireRapids"] {
            #expect(BLASKernelChoice.correction(core: core, flags: Self.avx512, vendor: "GenuineIntel") == nil)
        }
    }

    /// A CPU without AVX2 gets nothing better from naming a kernel.
    @Test func anOldCPUKeepsItsFallback() {
        #expect(BLASKernelChoice.correction(core: "Prescott", flags: ["sse3", "avx"], vendor: "GenuineIntel") == nil)
    }
}
