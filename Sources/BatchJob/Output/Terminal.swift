import Foundation
import Synchronization

/// What the process knows about its terminal, and the one progress line it may own.
enum Terminal {
    static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

    /// Whether a progress line is on screen now, so log lines can clear it first.
    static let progressLineShown = Mutex(false)

    static func clearProgressLine() {
        let shown = progressLineShown.withLock { shown in
            defer { shown = false }
            return shown
        }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
