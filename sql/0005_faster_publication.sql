-- Publishing a day spends most of its swap building the partition's primary key. Two changes
-- make the swap cheaper without changing what is published or how atomically:
--   * the staging table carries the day's CHECK constraint from its creation, so each row is
--     checked as it is copied in and the swap no longer scans the whole table to validate it;
--   * the key's pages are filled completely (fillfactor 100): a published partition is never
--     updated, so there is less to write, sync and later read.
-- The key's sort is cheapest when rows arrive in key order, as the nightly job writes them
-- (sessions by id, ranks ascending) on a database with the C collation (the embedded server's).
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

CREATE OR REPLACE FUNCTION danser.create_recommendations_staging(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    name text := 'recommendations_staging_' || to_char(day, 'YYYYMMDD');
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS danser.%I', name);
    -- The day's constraint lets ATTACH skip its validation scan.
    EXECUTE format('CREATE TABLE danser.%I (LIKE danser.recommendations INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CONSTRAINT %I CHECK (as_of = %L))',
        name, name || '_day', day);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        EXECUTE format('GRANT SELECT, INSERT ON danser.%I TO danser_job', name);
    END IF;
    RETURN name;
END $$;
COMMENT ON FUNCTION danser.create_recommendations_staging(date) IS 'Creates an empty staging table for one logical date (dropping a leftover one), constrained to that date, and returns its name.';

-- Makes a filled staging table the day's partition and the day's published result, atomically:
-- readers of bi.recommendations_current see the previous result or the new one, never a mix.
CREATE OR REPLACE FUNCTION danser.publish_recommendations(day date, p_run_id bigint, p_model_version bigint, p_sessions bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    staging text := 'recommendations_staging_' || to_char(day, 'YYYYMMDD');
    target text := 'recommendations_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('danser.' || staging) IS NULL THEN
        RAISE EXCEPTION 'no staging table % to publish', staging USING ERRCODE = 'undefined_table';
    END IF;
    -- A staging table created before this migration lacks the day's constraint.
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass('danser.' || staging) AND conname = staging || '_day') THEN
        EXECUTE format('ALTER TABLE danser.%I ADD CONSTRAINT %I CHECK (as_of = %L)', staging, staging || '_day', day);
    END IF;
    -- The index becomes the partition's key.
    EXECUTE format('ALTER TABLE danser.%I ADD PRIMARY KEY (as_of, session_id, rank) WITH (fillfactor = 100)', staging);
    IF to_regclass('danser.' || target) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE danser.recommendations DETACH PARTITION danser.%I', target);
        EXECUTE format('DROP TABLE danser.%I', target);
    END IF;
    EXECUTE format('ALTER TABLE danser.%I RENAME TO %I', staging, target);
    EXECUTE format('ALTER TABLE danser.recommendations ATTACH PARTITION danser.%I FOR VALUES IN (%L)', target, day);
    INSERT INTO danser.published_recommendations (as_of, run_id, model_version, sessions, published_at)
    VALUES (day, p_run_id, p_model_version, p_sessions, now())
    ON CONFLICT (as_of) DO UPDATE SET run_id = EXCLUDED.run_id, model_version = EXCLUDED.model_version,
        sessions = EXCLUDED.sessions, published_at = EXCLUDED.published_at;
END $$;
COMMENT ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) IS 'Swaps a filled staging table in as the partition of its logical date and records it as published, in the caller''s transaction.';

-- CREATE OR REPLACE keeps the privileges; restated so this file reads whole.
REVOKE ALL ON FUNCTION danser.create_recommendations_staging(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) FROM PUBLIC;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.create_recommendations_staging(date) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) TO danser_job;
    END IF;
END $$;
