-- The job lease and a ledger that tells the truth.
--
-- 1. danser.job_lease replaces the advisory job lock. pg_advisory_lock is open to every login,
--    so any reader could stall the job; this table can be written only by its owner and
--    danser_job (sql/roles.sql). A holder is a row: who (run id, host, pid), since when, its
--    last heartbeat and its expiry. An expired row, or one whose process is gone from the
--    taker's host, may be taken over. Scope 'exclusive' (nightly, rerun, whole-day score,
--    prune, models promote/rollback) conflicts with every other holder; scope 'shared'
--    (score --shard i/N) conflicts with every holder whose share_key differs, so the shards of
--    one day's set run side by side but never beside a nightly.
-- 2. danser.runs gains the stage a run is in, its heartbeat, how many attempts it took, the
--    last cause of a retry or of its end, and the status 'abandoned' (its process is gone).

CREATE TABLE danser.job_lease (
    holder_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope         text        NOT NULL CHECK (scope IN ('exclusive', 'shared')),
    share_key     text,
    purpose       text        NOT NULL,
    run_id        bigint,
    host          text        NOT NULL,
    pid           integer     NOT NULL,
    since         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CHECK ((scope = 'shared') = (share_key IS NOT NULL))
);
COMMENT ON TABLE danser.job_lease IS 'Job lease: who may run the job now. Written only by the job (danser_job); an expired holder may be taken over.';
COMMENT ON COLUMN danser.job_lease.scope IS 'exclusive (nightly, rerun, score, prune, models) or shared (score shards of one set, same share_key).';
COMMENT ON COLUMN danser.job_lease.share_key IS 'Shared holders with the same key run side by side, e.g. "score 2014-04-07 shards of 4".';
COMMENT ON COLUMN danser.job_lease.purpose IS 'What the holder is doing, e.g. "nightly 2014-04-07".';
COMMENT ON COLUMN danser.job_lease.heartbeat_at IS 'Refreshed every few seconds by the holder.';
COMMENT ON COLUMN danser.job_lease.expires_at IS 'After this time without a heartbeat the lease may be taken over.';
REVOKE ALL ON danser.job_lease FROM PUBLIC;

ALTER TABLE danser.runs ADD COLUMN IF NOT EXISTS stage text;
ALTER TABLE danser.runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
ALTER TABLE danser.runs ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 1;
ALTER TABLE danser.runs ADD COLUMN IF NOT EXISTS cause text;
COMMENT ON COLUMN danser.runs.heartbeat_at IS 'Last sign of life of a running run (every few seconds); a running row whose heartbeat is old is abandoned.';
COMMENT ON COLUMN danser.runs.attempts IS 'Attempts the run took: more than 1 when a transient failure (lost connection, server restart) was retried.';
COMMENT ON COLUMN danser.runs.cause IS 'Last transient failure seen (retried or not), or what ended a run marked abandoned or interrupted.';
COMMENT ON COLUMN danser.runs.status IS 'running, succeeded, failed, skipped (lease held or already done), interrupted (SIGTERM/SIGINT), abandoned (the process went away without closing the run).';

-- Add 'abandoned' to whatever statuses the check allows (kept from earlier migrations).
DO $$
DECLARE definition text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO definition FROM pg_constraint
    WHERE conrelid = 'danser.runs'::regclass AND conname = 'runs_status_check';
    IF definition IS NULL THEN
        ALTER TABLE danser.runs ADD CONSTRAINT runs_status_check
            CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'interrupted', 'abandoned'));
    ELSIF position('''abandoned''' IN definition) = 0 THEN
        ALTER TABLE danser.runs DROP CONSTRAINT runs_status_check;
        EXECUTE 'ALTER TABLE danser.runs ADD CONSTRAINT runs_status_check '
            || regexp_replace(definition, 'ARRAY\[', 'ARRAY[''abandoned''::text, ');
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS runs_running ON danser.runs (run_id) WHERE status = 'running';

-- The job role keeps its rights on the new table when roles.sql ran before this migration.
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON danser.job_lease TO danser_job;
    END IF;
END $$;
