-- Each click counted once, however it arrives; and a job role that can do its job but cannot
-- rewrite history.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

-- 1. The identity of a click: (session, item, time, ordinal). The ordinal numbers true repeats
--    of the same (session, item, time) within one file, in file order, so a file imported again,
--    recompressed, appended to or overlapping another adds only the clicks not yet present.
ALTER TABLE danser.click_log ADD COLUMN ordinal integer NOT NULL DEFAULT 1 CHECK (ordinal >= 1);
COMMENT ON COLUMN danser.click_log.ordinal IS 'Which repeat of the same (session, item, time) within its file this row is (1 = the first): with them, the row''s natural key.';
-- Rows imported before this migration keep every copy they had (nothing is dropped): repeats of
-- one key are numbered in the order they were loaded.
UPDATE danser.click_log c SET ordinal = r.n
FROM (
    SELECT ctid, row_number() OVER (PARTITION BY session_id, item_id, event_time ORDER BY import_id NULLS FIRST, ctid) AS n
    FROM danser.click_log
) r
WHERE c.ctid = r.ctid AND r.n > 1;
CREATE UNIQUE INDEX click_log_natural_key ON danser.click_log (session_id, item_id, event_time, ordinal);
COMMENT ON INDEX danser.click_log_natural_key IS 'A click is stored once: import adds only the rows whose key is not here yet.';
COMMENT ON TABLE danser.click_log IS 'Anonymous click events, one row per click, unique by (session_id, item_id, event_time, ordinal). Distribution column: session_id.';

ALTER TABLE danser.imports ADD COLUMN rows_duplicate bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN danser.imports.rows_duplicate IS 'Valid rows whose click was already in click_log (not added again).';
COMMENT ON COLUMN danser.imports.rows_imported IS 'New clicks added to click_log.';
COMMENT ON COLUMN danser.imports.file_sha256 IS 'SHA-256 of the file bytes as stored (compressed bytes for .gz); stdin:UUID for standard input, which is never skipped whole.';

-- 2. Normalization statistics are checked on every read, like the embedding and checkpoint blobs.
ALTER TABLE danser.normalization_stats ADD COLUMN checksum text;
COMMENT ON COLUMN danser.normalization_stats.checksum IS 'SHA-256 (hex) of the statistics as numbers (totals, item count, prior mean and SD, then per item its click count and log prior, little-endian), checked on every read; NULL for rows stored before migration 0008.';

-- 3. Published history changes only through the job's own functions. A published day's
--    partition is sealed: the job role may read it, never write it.
CREATE FUNCTION danser.seal_recommendations_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    target text := 'recommendations_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('danser.' || target) IS NOT NULL THEN
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM PUBLIC', target);
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM danser_job', target);
        END IF;
    END IF;
END $$;
COMMENT ON FUNCTION danser.seal_recommendations_day(date) IS 'Makes a published day read-only for the job role (its rows change only by publishing the day again).';

-- The swap: publish the staged day, then seal it. Same arguments as publish_recommendations.
CREATE FUNCTION danser.publish_recommendations_day(day date, p_run_id bigint, p_model_version bigint, p_sessions bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
BEGIN
    PERFORM danser.publish_recommendations(day, p_run_id, p_model_version, p_sessions);
    PERFORM danser.seal_recommendations_day(day);
END $$;
COMMENT ON FUNCTION danser.publish_recommendations_day(date, bigint, bigint, bigint) IS 'Swaps a filled staging table in as its day''s partition, records it as published and seals it, in the caller''s transaction.';

-- The audited swap of migration 0006 (the day audit), then the seal. Same arguments.
CREATE FUNCTION danser.publish_audited_recommendations_day(day date, p_run_id bigint, p_model_version bigint, p_sessions bigint, p_audit jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
BEGIN
    PERFORM danser.publish_audited_recommendations(day, p_run_id, p_model_version, p_sessions, p_audit);
    PERFORM danser.seal_recommendations_day(day);
END $$;
COMMENT ON FUNCTION danser.publish_audited_recommendations_day(date, bigint, bigint, bigint, jsonb) IS 'publish_audited_recommendations, then seals the day''s partition (read-only for the job role).';

-- Sharded scoring: the shard that completes the set publishes; seal what it published.
CREATE FUNCTION danser.complete_recommendations_shard_day(
    day date, shard integer, shards integer, p_run_id bigint, p_model_version bigint, p_sessions bigint, p_rows bigint)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    remaining integer;
BEGIN
    remaining := danser.complete_recommendations_shard(day, shard, shards, p_run_id, p_model_version, p_sessions, p_rows);
    IF remaining = 0 THEN
        PERFORM danser.seal_recommendations_day(day);
    END IF;
    RETURN remaining;
END $$;
COMMENT ON FUNCTION danser.complete_recommendations_shard_day(date, integer, integer, bigint, bigint, bigint, bigint) IS 'complete_recommendations_shard, then seals the day when this call published it.';

-- Days published before this migration.
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT as_of FROM danser.published_recommendations LOOP
        PERFORM danser.seal_recommendations_day(day);
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION danser.seal_recommendations_day(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.publish_recommendations_day(date, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.complete_recommendations_shard_day(date, integer, integer, bigint, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.publish_audited_recommendations_day(date, bigint, bigint, bigint, jsonb) FROM PUBLIC;

-- The job role: its own functions, and no writes to the migration record or published history.
-- sql/roles.sql restates this after its broad grants, so it holds whichever runs last.
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.publish_recommendations_day(date, bigint, bigint, bigint) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.complete_recommendations_shard_day(date, integer, integer, bigint, bigint, bigint, bigint) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.publish_audited_recommendations_day(date, bigint, bigint, bigint, jsonb) TO danser_job;
        REVOKE EXECUTE ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) FROM danser_job;
        -- The plain swap would leave the day writable: the job publishes through the functions above.
        REVOKE EXECUTE ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) FROM danser_job;
        REVOKE EXECUTE ON FUNCTION danser.complete_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint) FROM danser_job;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.schema_migrations FROM danser_job;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.published_recommendations FROM danser_job;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.recommendations FROM danser_job;
    END IF;
END $$;
