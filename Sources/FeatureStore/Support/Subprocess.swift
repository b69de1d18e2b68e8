internal import Foundation

/// Runs a program with posix_spawn and waitpid. Output goes to a temp file rather than a
/// pipe, and every other descriptor is closed in the child, because a server started by
/// `pg_ctl start` would inherit them and hold our caller's pipes open for as long as it runs.
enum Subprocess {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ program: String, _ arguments: [String]) throws -> Result {
        var template = Array((NSTemporaryDirectory() + "/danser-run-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FeatureStoreError(.embeddedServer, "cannot create a temporary file") }
        let outputPath = String(cString: template)
        defer {
            close(fd)
            unlink(outputPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        posix_spawn_file_actions_addclose(&actions, fd)
        for inherited in openDescriptors() where inherited > 2 && inherited != fd {
            posix_spawn_file_actions_addclose(&actions, inherited)
        }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw FeatureStoreError(.embeddedServer, "cannot run \(program): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        return Result(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output)
    }

    /// This process's open file descriptors.
    private static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.filter { fcntl($0, F_GETFD) != -1 }
    }
}
