import Testing

@testable import BatchJob

@Suite struct MachineDescriptionTests {
    @Test func readsTheCPUModelAndTheWidestSIMDLevel() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 9654\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f\n"
        #expect(MachineDescription.field("model name", in: cpuinfo) == "AMD EPYC 9654")
        #expect(MachineDescription.simdLevel(flags: MachineDescription.field("flags", in: cpuinfo)!) == "AVX-512")
        #expect(MachineDescription.simdLevel(flags: "fpu sse4_2 avx avx2") == "AVX2")
        #expect(MachineDescription.simdLevel(flags: "fp asimd evtstrm") == "ASIMD")
    }

    @Test func namesTheBLASBuild() {
        let machine = MachineDescription.current(threads: 2)
        #expect(machine.description.contains("BLAS: "))
        #expect(machine.description.contains("2 threads"))
    }
}
