import ArgumentParser
import Foundation
import Testing

@testable import BatchJob

/// `experiment --config sr|...`: grids that cannot be parsed or ranked are refused by option name.
@Suite struct ContenderExperimentTests {
    /// A click file whose training sessions all end on 2016-01-02, test sessions on 2016-01-03.
    private func clickFile() throws -> String {
        var lines = ["session_id,item_id,timestamp"]
        for session in 0..<30 {
            let day = session < 24 ? "2016-01-02" : "2016-01-03"
            for (step, item) in [session % 4 + 1, (session + 1) % 4 + 1, (session + 2) % 4 + 1].enumerated() {
                lines.append("\(session),\(item),\(day)T\(String(format: "%02d", session % 20)):0\(step):00Z")
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("contenders-\(UUID().uuidString).csv").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func malformedGridNamesItsOption() throws {
        let options = try ContenderOptions.parse(["--sr-steps", "5,x"])
        #expect { try options.grid(for: .sr) } throws: { ($0 as? ValidationError)?.message.contains("--sr-steps") == true }
        let alpha = try ContenderOptions.parse(["--slist-alpha", "0.2,1.5"])
        #expect { try alpha.grid(for: .slist) } throws: { ($0 as? ValidationError)?.message.contains("--slist-alpha") == true }
        #expect(try ContenderOptions.parse([]).grid(for: .stan).settings.count == 16)
    }

    @Test func gridThatValidationCannotRankIsRefused() throws {
        let path = try clickFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Every training session ends in the last day: a 1-day window leaves nothing to fit on.
        let command = try ExperimentCommand.parse([
            "--clicks", path, "--test-from", "2016-01-03", "--min-item-clicks", "1", "--config", "sr",
            "--tuning-days", "1", "--sr-steps", "5,10", "--sr-pruning", "0", "--sr-window", "1",
        ])
        #expect { try command.run() } throws: { error in
            let message = (error as? ValidationError)?.message ?? ""
            return message.contains("--sr-steps") && !message.contains("--sr-pruning") && message.contains("--tuning-days")
        }
        // One setting needs no validation: it is fitted and tested directly.
        let single = try ExperimentCommand.parse([
            "--clicks", path, "--test-from", "2016-01-03", "--min-item-clicks", "1", "--config", "sr",
            "--tuning-days", "1", "--sr-steps", "5", "--sr-pruning", "0", "--sr-window", "1",
        ])
        try single.run()
    }
}
