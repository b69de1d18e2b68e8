import Foundation
import Testing

@testable import FeatureStore

/// The embedded server of a state folder that was moved or restored to another path.
@Suite struct EmbeddedServerTests {
    /// The cluster's configuration names the folder it was created in; started from its new
    /// path, the server listens there and keeps its data.
    @Test func aMovedStateFolderStartsWithItsData() throws {
        let base = "/tmp/danser-move-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let (old, new) = (base + "-a", base + "-b")
        var server = EmbeddedServer(stateDirectory: old)
        server.unsafeFast = true
        defer {
            for folder in [old, new] {
                try? EmbeddedServer(stateDirectory: folder).stop()
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
        try Connection(try server.start()).query("CREATE TABLE kept AS SELECT 42 AS answer")
        try server.stop()
        try FileManager.default.moveItem(atPath: old, toPath: new)

        let moved = EmbeddedServer(stateDirectory: new)
        let connection = try Connection(try moved.start())
        #expect(try connection.query("SELECT answer FROM kept").int(0, 0) == 42)
        #expect(FileManager.default.fileExists(atPath: moved.socketDirectory + "/.s.PGSQL.\(moved.port)"))
        try moved.stop()
    }
}
