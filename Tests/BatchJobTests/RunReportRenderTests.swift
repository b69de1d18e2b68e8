import Foundation
import Testing

@testable import BatchJob

/// Renders the run report in headless Chromium: the eight charts are there with drawn marks, the
/// page asks for nothing over the network, and a screenshot has content. Skipped when Chromium is
/// not installed (CI installs Debian's `chromium`).
@Suite struct RunReportRenderTests {
    @Test(.enabled(if: Chromium.path != nil, "needs chromium on the PATH (Debian: apt-get install chromium)"))
    func chartsRenderWithoutNetworkRequests() throws {
        let folder = try Chromium.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let page = try RunReport.sample().write(to: folder)

        let rendered = try Chromium.render(page, in: folder)
        let charts = rendered.dom.components(separatedBy: "<svg class=\"chart\"").dropFirst()
        #expect(charts.count == 8)
        for (index, chart) in charts.enumerated() {
            let body = chart.components(separatedBy: "</svg>").first ?? ""
            let marks = body.components(separatedBy: "<polyline class=\"series\"").count - 1 + body.components(separatedBy: "<rect class=\"bar\"").count - 1
            #expect(marks > 0, "chart \(index + 1) has no drawn series or bars")
            #expect(!body.contains("points=\"\""), "chart \(index + 1) has an empty line")
            #expect(!body.contains("NaN") && !body.contains("Infinity"), "chart \(index + 1) has a non-finite coordinate")
        }
        #expect(rendered.dom.contains("SYNTHETIC DATA"))
        #expect(!rendered.dom.contains(" src=") && !rendered.dom.contains("<link") && !rendered.dom.contains("<script"))
        #expect(rendered.pageRequests.isEmpty, "the report requested \(rendered.pageRequests)")

        // The request detector works: a page with one external image is caught.
        let control = (folder as NSString).appendingPathComponent("control.html")
        try "<html><body><img src=\"http://report-test.invalid/x.png\"></body></html>".write(toFile: control, atomically: true, encoding: .utf8)
        #expect(try Chromium.render(control, in: folder).pageRequests == ["http://report-test.invalid/x.png"])

        let screenshot = (folder as NSString).appendingPathComponent("report.png")
        try Chromium.screenshot(page, to: screenshot, in: folder)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        func bigEndian(_ offset: Int) -> Int { png.dropFirst(offset).prefix(4).reduce(0) { $0 << 8 | Int($1) } }
        #expect(png.count > 24 && bigEndian(16) == 1200 && bigEndian(20) == 2000)
        // An empty 1200x2000 page compresses to a few kilobytes; charts and tables make it far larger.
        #expect(png.count > 50_000, "screenshot is only \(png.count) bytes")
    }
}

/// Headless Chromium, run as a separate process with its own throwaway profile.
enum Chromium {
    static let path: String? = {
        if let explicit = ProcessInfo.processInfo.environment["CHROMIUM"], FileManager.default.isExecutableFile(atPath: explicit) {
            return explicit
        }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return "\(folder)/\(name)"
            }
        }
        return nil
    }()

    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "danser-render-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Quiet, offline, sandbox-free (tests may run as root) flags.
    static func arguments(profile: String) -> [String] {
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ]
    }

    struct Rendered {
        var dom: String
        /// URLs the page itself requested (the browser's own background requests excluded).
        var pageRequests: [String]
    }

    /// `--dump-dom` with a network log, from which the page's own requests are read: requests the
    /// browser makes for itself carry the initiator "not an origin"; a file:// page's are "null".
    static func render(_ page: String, in folder: String) throws -> Rendered {
        let netLog = (folder as NSString).appendingPathComponent("net-\(UUID().uuidString).json")
        let profile = (folder as NSString).appendingPathComponent("profile-\(UUID().uuidString)")
        let dom = try run(arguments(profile: profile) + ["--log-net-log=\(netLog)", "--dump-dom", "file://\(page)"])
        let log = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: netLog))) as? [String: Any] ?? [:]
        let types = (log["constants"] as? [String: Any])?["logEventTypes"] as? [String: Int] ?? [:]
        let startJob = types["URL_REQUEST_START_JOB"]
        var requests: [String] = []
        for event in log["events"] as? [[String: Any]] ?? [] where event["type"] as? Int == startJob {
            let parameters = event["params"] as? [String: Any] ?? [:]
            guard let url = parameters["url"] as? String, parameters["initiator"] as? String != "not an origin" else { continue }
            if !url.hasPrefix("file:") && !url.hasPrefix("data:") { requests.append(url) }
        }
        return Rendered(dom: dom, pageRequests: requests)
    }

    static func screenshot(_ page: String, to output: String, in folder: String) throws {
        let profile = (folder as NSString).appendingPathComponent("profile-\(UUID().uuidString)")
        _ = try run(arguments(profile: profile) + ["--hide-scrollbars", "--window-size=1200,2000", "--screenshot=\(output)", "file://\(page)"])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs Chromium and returns its standard output; stops it after two minutes.
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path ?? "chromium")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        nonisolated(unsafe) let running = process
        let watchdog = DispatchWorkItem { if running.isRunning { running.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "chromium exited with \(process.terminationStatus) (\(process.terminationReason == .uncaughtSignal ? "stopped after 120 s or killed" : "failed"))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
