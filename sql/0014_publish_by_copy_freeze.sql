-- Publishing a day at the speed of a plain COPY. The rows of a day go into an empty staging
-- table by COPY ... FREEZE in the same transaction that emptied it: the rows are written frozen
-- and all-visible once, so building the day's key (which reads every row) sets no hint bits and
-- writes no page a second time, and the published partition never needs a vacuum to freeze.
-- What is published, and how atomically, does not change.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

-- Empties a staging table (of a day or of one shard of a day) in the caller's transaction when it
-- holds no row yet, so the COPY that follows may use FREEZE; returns false, and leaves the table
-- alone, when it already holds rows (the caller then COPYs without FREEZE).
CREATE FUNCTION danser.prepare_recommendations_staging(staging text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    filled boolean;
BEGIN
    IF staging !~ '^recommendations_staging_[0-9]{8}(_s[0-9]+of[0-9]+)?$' OR to_regclass(format('danser.%I', staging)) IS NULL THEN
        RAISE EXCEPTION 'no staging table %', staging USING ERRCODE = 'undefined_table';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM danser.%I)', staging) INTO filled;
    IF filled THEN
        RETURN false;
    END IF;
    EXECUTE format('TRUNCATE danser.%I', staging);
    RETURN true;
END $$;
COMMENT ON FUNCTION danser.prepare_recommendations_staging(text) IS 'Empties a still empty staging table in the caller''s transaction so that COPY ... FREEZE may fill it; false when it already holds rows.';

REVOKE ALL ON FUNCTION danser.prepare_recommendations_staging(text) FROM PUBLIC;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.prepare_recommendations_staging(text) TO danser_job;
    END IF;
END $$;

-- Building the key sorts every row of the day: with the default 64 MB a day of millions of rows
-- sorts on disk, in runs merged afterwards. The swap's own setting, restored when it returns.
ALTER FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) SET maintenance_work_mem = '256MB';
