#!/usr/bin/env bash
# Runs one nightly job from cron: loads an environment file, logs one JSON line per event to a
# dated log file, records the exit code, and exits with the job's own code so the scheduler sees it.
#
#   cron/nightly.sh [ENV_FILE] [extra danser-batch nightly options...]
#
# ENV_FILE (default /etc/danser-batch/env) is sourced; typical contents:
#   DATABASE_URL=postgresql://danser_nightly@db.example/danser   (a login IN ROLE danser_job; password in ~/.pgpass)
#   DANSER_BATCH=/usr/local/bin/danser-batch
#   DANSER_LOG_DIR=/var/log/danser-batch
#   DANSER_REPORT_DIR=/var/lib/danser-batch/reports
set -uo pipefail

env_file="${1:-/etc/danser-batch/env}"
[ $# -gt 0 ] && shift
if [ ! -r "$env_file" ]; then
    echo "nightly.sh: cannot read environment file $env_file; create it or pass another path" >&2
    exit 78
fi
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

binary="${DANSER_BATCH:-danser-batch}"
log_dir="${DANSER_LOG_DIR:-/var/log/danser-batch}"
as_of="${DANSER_AS_OF:-$(date -u +%F)}"
mkdir -p "$log_dir" || { echo "nightly.sh: cannot create log folder $log_dir" >&2; exit 73; }
log_file="$log_dir/nightly-$as_of.log"

"$binary" nightly --as-of "$as_of" --log-format json "$@" >>"$log_file" 2>&1
status=$?
printf '%s as_of=%s exit=%d\n' "$(date -u +%FT%TZ)" "$as_of" "$status" >>"$log_dir/exit-codes.log"
exit "$status"
