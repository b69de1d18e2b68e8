/// Documented process exit codes (sysexits style), shared by every subcommand.
/// The README's "Exit codes" table mirrors this list.
enum ExitStatus: Int32, Sendable {
    /// Success.
    case ok = 0
    /// The run finished, but some input rows were quarantined.
    case quarantined = 3
    /// Another run holds the job lease; this one did nothing.
    case skipped = 4
    /// Interrupted by SIGTERM/SIGINT; nothing half-published.
    case interrupted = 5
    /// The day failed its audit (no clicks for the date, a floor, a drop, the fallback share, the
    /// champion changed, a bad row): it stays in staging and the previous day stays current.
    case auditFailed = 6
    /// `status`: the newest published day is missing, has no sessions, or is older than `--max-age`.
    case unhealthy = 7
    /// Bad command line.
    case usage = 64
    /// Bad input data (too small to train, corrupt checkpoint or blob).
    case dataError = 65
    /// Input file missing or unreadable.
    case noInput = 66
    /// A required service (the database, a program) is not available.
    case unavailable = 69
    /// Internal error: a bug; please report it.
    case software = 70
    /// Cannot write an output file or folder.
    case cantCreate = 73
    /// A temporary failure; retrying later may succeed.
    case tempFail = 75
    /// Permission denied (database role, file).
    case noPermission = 77
    /// Bad configuration (settings, environment, migrations).
    case config = 78
}
