import Foundation

/// This process's memory, for the figures commands print.
enum ProcessMemory {
    /// Peak resident set size so far, in MiB: VmHWM of /proc/self/status, which counts this
    /// program only (getrusage's maxrss can include the parent that spawned it); getrusage where
    /// there is no /proc.
    static func peakMiB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        {
            return kib / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
    }

    /// Starts a new peak from the current resident set (Linux: writes 5 to /proc/self/clear_refs);
    /// false where that is not possible, and then `peakMiB` keeps the process's peak.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    /// Resident set size now, in MiB (from /proc; 0 where there is none).
    static func currentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}

/// This process's CPU time, for benchmarks on a shared machine: unlike wall-clock seconds it
/// does not count time spent waiting for a core that another program holds.
enum ProcessTime {
    /// User + system CPU seconds of all this process's threads so far.
    static func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
