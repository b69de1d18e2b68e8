-- The nightly job's publication machinery: staging and atomic swap of a day's recommendations,
-- training checkpoints for resuming a killed run, and the run report's location.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

ALTER TABLE danser.runs ADD COLUMN report_path text;
COMMENT ON COLUMN danser.runs.report_path IS 'HTML report written for the run, if any.';

ALTER TABLE danser.models ADD COLUMN fingerprint text;
ALTER TABLE danser.models ADD COLUMN gate_reason text;
CREATE INDEX models_as_of_fingerprint ON danser.models (as_of, fingerprint);
COMMENT ON COLUMN danser.models.fingerprint IS 'Hash of what determines the model (data cut-off, mode, parent, configuration, epochs, seed): a rerun of the same night reuses the model instead of training it again.';
COMMENT ON COLUMN danser.models.gate_reason IS 'Why the promotion gate accepted or rejected the model.';

CREATE TABLE danser.training_checkpoints (
    as_of        date        NOT NULL,
    fingerprint  text        NOT NULL,
    epoch        integer     NOT NULL CHECK (epoch >= 1),
    checkpoint   bytea       NOT NULL,
    run_id       bigint REFERENCES danser.runs,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, fingerprint)
);
COMMENT ON TABLE danser.training_checkpoints IS 'Last completed epoch of an unfinished training, so a killed or interrupted run resumes there. Deleted once the model is published.';

-- A staging table for one night's rows, owned by the schema owner so it can later become a partition.
CREATE FUNCTION danser.create_recommendations_staging(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    name text := 'recommendations_staging_' || to_char(day, 'YYYYMMDD');
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS danser.%I', name);
    EXECUTE format('CREATE TABLE danser.%I (LIKE danser.recommendations INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        EXECUTE format('GRANT SELECT, INSERT ON danser.%I TO danser_job', name);
    END IF;
    RETURN name;
END $$;
COMMENT ON FUNCTION danser.create_recommendations_staging(date) IS 'Creates an empty staging table for one logical date (dropping a leftover one) and returns its name.';

-- Makes a filled staging table the day's partition and the day's published result, atomically:
-- readers of bi.recommendations_current see the previous result or the new one, never a mix.
CREATE FUNCTION danser.publish_recommendations(day date, p_run_id bigint, p_model_version bigint, p_sessions bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    staging text := 'recommendations_staging_' || to_char(day, 'YYYYMMDD');
    target text := 'recommendations_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('danser.' || staging) IS NULL THEN
        RAISE EXCEPTION 'no staging table % to publish', staging USING ERRCODE = 'undefined_table';
    END IF;
    -- The constraint lets ATTACH skip its validation scan; the index becomes the partition's key.
    EXECUTE format('ALTER TABLE danser.%I ADD CONSTRAINT %I CHECK (as_of = %L)', staging, staging || '_day', day);
    EXECUTE format('ALTER TABLE danser.%I ADD PRIMARY KEY (as_of, session_id, rank)', staging);
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

-- Drops the partition (and publication record) of one day; used by retention.
CREATE FUNCTION danser.drop_recommendations_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    target text := 'recommendations_' || to_char(day, 'YYYYMMDD');
BEGIN
    DELETE FROM danser.published_recommendations WHERE as_of = day;
    IF to_regclass('danser.' || target) IS NOT NULL THEN
        EXECUTE format('DROP TABLE danser.%I', target);
    END IF;
END $$;
COMMENT ON FUNCTION danser.drop_recommendations_day(date) IS 'Removes one day of recommendations (retention).';

-- Functions are executable by PUBLIC by default; these write, so only the job role may call them.
REVOKE ALL ON FUNCTION danser.create_recommendations_staging(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.drop_recommendations_day(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.ensure_recommendations_partition(date) FROM PUBLIC;

DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.create_recommendations_staging(date) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.drop_recommendations_day(date) TO danser_job;
        GRANT SELECT, INSERT, UPDATE, DELETE ON danser.training_checkpoints TO danser_job;
    END IF;
END $$;
