#!/usr/bin/env bash
# Runs one nightly job from cron: loads an environment file, logs one JSON line per event to a
# dated log file, records the exit code, and exits with the job's own code so the scheduler sees it.
#
#   cron/nightly.sh [ENV_FILE] [extra danser-batch nightly options...]
#
# Settings (database, source table and columns, audit, retry, training) belong in the
# configuration file, /etc/danser-batch/config.toml by default (DANSER_CONFIG names another);
# `danser-batch config` prints what the job will use. ENV_FILE (default /etc/danser-batch/env) is
# sourced by the shell, so quote every value that holds '&', ';', spaces or '$'; typical contents:
#   DATABASE_URL='postgresql://danser_nightly@db.example/danser?sslmode=require'   (a danser_job login; password in ~/.pgpass)
#   DANSER_BATCH=/usr/local/bin/danser-batch
#   DANSER_LOG_DIR=/var/log/danser-batch
#   DANSER_CONFIG=/etc/danser-batch/config.toml
# A variable the file assigns that is empty or unset after sourcing (an unquoted '&' does that)
# stops the run with exit 78, naming it: the job never falls back to an embedded database.
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

# Every variable the file assigns must have a value now.
while IFS= read -r name; do
    if [ -z "${!name:-}" ]; then
        echo "nightly.sh: $name in $env_file is empty after the file was sourced; quote its value (e.g. $name='...&...')" >&2
        exit 78
    fi
done < <(sed -n -E 's/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p' "$env_file" | sort -u)

binary="${DANSER_BATCH:-danser-batch}"
log_dir="${DANSER_LOG_DIR:-/var/log/danser-batch}"
as_of="${DANSER_AS_OF:-$(date -u +%F)}"
mkdir -p "$log_dir" || { echo "nightly.sh: cannot create log folder $log_dir" >&2; exit 73; }
log_file="$log_dir/nightly-$as_of.log"

# The job records the log file in its ledger row (danser-batch status shows it). Its standard
# output (the run summary) is JSON too with --log-format json, so the file is one format.
DANSER_LOG_FILE="$log_file" "$binary" nightly --as-of "$as_of" --log-format json "$@" >>"$log_file" 2>&1
status=$?
printf '%s as_of=%s exit=%d\n' "$(date -u +%FT%TZ)" "$as_of" "$status" >>"$log_dir/exit-codes.log"
exit "$status"
