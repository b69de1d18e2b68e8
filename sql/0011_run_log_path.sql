-- Where to read a run's log: the scheduler's log file (cron/nightly.sh passes it to the job as
-- DANSER_LOG_FILE), kept beside the report path so `danser-batch status` can show both.

ALTER TABLE danser.runs ADD COLUMN IF NOT EXISTS log_path text;
COMMENT ON COLUMN danser.runs.log_path IS 'Log file the run''s lines were appended to (set by the scheduler''s wrapper through DANSER_LOG_FILE); NULL when the run logged to a terminal or an unnamed stream.';
