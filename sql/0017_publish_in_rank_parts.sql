-- Publishing a day over two connections at once. A day's staging table may be split by rank
-- into parts (ranks 1-10 and 11-20, say): each part is filled by a COPY ... FREEZE of its own,
-- on a connection of its own, and keyed by that connection, so the parts are written and keyed
-- side by side instead of one after the other. Every session has rows in every part and the
-- nightly job writes them in session order, so both streams run for the whole COPY.
-- The swap then adds the day's key, which takes over the parts' keys without building anything,
-- and attaches the day as before: what is published, and how atomically, does not change.
-- A day in one table (create_recommendations_staging(date)) stays valid: the sharded path and a
-- database distributed by Citus (which does not distribute partitions that are themselves
-- partitioned) use it.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

-- rank_bounds: the first rank of each part after the first, ascending, each above 1. No bound:
-- the day in one table.
CREATE FUNCTION danser.create_recommendations_staging(day date, rank_bounds smallint[]) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    name text := 'recommendations_staging_' || to_char(day, 'YYYYMMDD');
    parts integer := coalesce(cardinality(rank_bounds), 0) + 1;
    lower text;
    upper text;
    i integer;
BEGIN
    IF parts = 1 THEN
        RETURN danser.create_recommendations_staging(day);
    END IF;
    IF parts > 16 OR array_position(rank_bounds, NULL) IS NOT NULL OR rank_bounds[1] <= 1
       OR EXISTS (SELECT FROM generate_series(2, parts - 1) g WHERE rank_bounds[g] <= rank_bounds[g - 1]) THEN
        RAISE EXCEPTION 'rank bounds % are not ascending ranks above 1 (at most 15)', rank_bounds USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS danser.%I', name);
    -- The day's constraint, inherited by every part, lets ATTACH skip its validation scan.
    EXECUTE format('CREATE TABLE danser.%I (LIKE danser.recommendations INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CONSTRAINT %I CHECK (as_of = %L)) PARTITION BY RANGE (rank)',
        name, name || '_day', day);
    FOR i IN 0 .. parts - 1 LOOP
        lower := CASE WHEN i = 0 THEN 'MINVALUE' ELSE rank_bounds[i]::text END;
        upper := CASE WHEN i = parts - 1 THEN 'MAXVALUE' ELSE rank_bounds[i + 1]::text END;
        EXECUTE format('CREATE TABLE danser.%I PARTITION OF danser.%I FOR VALUES FROM (%s) TO (%s)', name || '_p' || i, name, lower, upper);
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
            EXECUTE format('GRANT SELECT, INSERT ON danser.%I TO danser_job', name || '_p' || i);
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        EXECUTE format('GRANT SELECT, INSERT ON danser.%I TO danser_job', name);
    END IF;
    RETURN name;
END $$;
COMMENT ON FUNCTION danser.create_recommendations_staging(date, smallint[]) IS 'Creates an empty staging table for one logical date (dropping a leftover one), split by rank into parts named <staging>_p0, _p1, ... that start at the given ranks, and returns its name.';

-- A part is a staging table too: it may be emptied for COPY ... FREEZE.
CREATE OR REPLACE FUNCTION danser.prepare_recommendations_staging(staging text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    filled boolean;
BEGIN
    IF staging !~ '^recommendations_staging_[0-9]{8}(_s[0-9]+of[0-9]+|_p[0-9]+)?$' OR to_regclass(format('danser.%I', staging)) IS NULL THEN
        RAISE EXCEPTION 'no staging table %', staging USING ERRCODE = 'undefined_table';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM danser.%I)', staging) INTO filled;
    IF filled THEN
        RETURN false;
    END IF;
    EXECUTE format('TRUNCATE danser.%I', staging);
    RETURN true;
END $$;

-- Keys one filled part, on the connection that filled it, while the other parts are keyed on
-- theirs. The swap's ADD PRIMARY KEY then takes the parts' keys over instead of building one.
-- One process a part: the parts are the parallelism, no extra workers.
CREATE FUNCTION danser.key_recommendations_staging_part(part text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser
SET maintenance_work_mem = '256MB' SET max_parallel_maintenance_workers = 0 AS $$
BEGIN
    IF part !~ '^recommendations_staging_[0-9]{8}_p[0-9]+$' OR to_regclass(format('danser.%I', part)) IS NULL THEN
        RAISE EXCEPTION 'no staging part %', part USING ERRCODE = 'undefined_table';
    END IF;
    IF EXISTS (SELECT FROM pg_index WHERE indrelid = to_regclass(format('danser.%I', part)) AND indisprimary) THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE danser.%I ADD PRIMARY KEY (as_of, session_id, rank) WITH (fillfactor = 100)', part);
END $$;
COMMENT ON FUNCTION danser.key_recommendations_staging_part(text) IS 'Builds the key of one filled part of a staging table (nothing when it has one).';

-- The part's key is logged compressed, as the swap's is (migration 0016, same conditions).
DO $$
DECLARE
    owner_name name;
    allowed boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_settings WHERE name = 'wal_compression' AND 'lz4' = ANY (enumvals)) THEN
        RETURN;
    END IF;
    SELECT r.rolname, r.rolsuper INTO owner_name, allowed FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
    WHERE p.oid = 'danser.key_recommendations_staging_part(text)'::regprocedure;
    IF owner_name <> current_user THEN
        RETURN;
    END IF;
    IF NOT allowed AND current_setting('server_version_num')::int >= 150000 THEN
        EXECUTE 'SELECT has_parameter_privilege(current_user, ''wal_compression'', ''SET'')' INTO allowed;
    END IF;
    IF allowed THEN
        ALTER FUNCTION danser.key_recommendations_staging_part(text) SET wal_compression = 'lz4';
    END IF;
END $$;

-- Sealing a published day also seals its parts, and gives them the day's name (a later staging
-- table of the same day reuses the staging names).
CREATE OR REPLACE FUNCTION danser.seal_recommendations_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    target text := 'recommendations_' || to_char(day, 'YYYYMMDD');
    part record;
    sealed text;
BEGIN
    IF to_regclass('danser.' || target) IS NULL THEN
        RETURN;
    END IF;
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass('danser.' || target)
    LOOP
        sealed := regexp_replace(part.relname, '^recommendations_staging_', 'recommendations_');
        IF sealed <> part.relname THEN
            EXECUTE format('ALTER TABLE danser.%I RENAME TO %I', part.relname, sealed);
        END IF;
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM PUBLIC', sealed);
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM danser_job', sealed);
        END IF;
    END LOOP;
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM PUBLIC', target);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.%I FROM danser_job', target);
    END IF;
END $$;

REVOKE ALL ON FUNCTION danser.create_recommendations_staging(date, smallint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.key_recommendations_staging_part(text) FROM PUBLIC;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.create_recommendations_staging(date, smallint[]) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.key_recommendations_staging_part(text) TO danser_job;
    END IF;
END $$;
