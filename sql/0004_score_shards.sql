-- Scoring in hash shards (`danser-batch score --shard i/N`): each shard stages its own rows and
-- records that it is done; the shard that completes the set merges them and publishes the day.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

CREATE TABLE danser.score_shards (
    as_of          date        NOT NULL,
    shard_count    integer     NOT NULL CHECK (shard_count >= 1),
    shard_index    integer     NOT NULL CHECK (shard_index >= 0 AND shard_index < shard_count),
    run_id         bigint      NOT NULL,
    model_version  bigint      NOT NULL,
    sessions       bigint      NOT NULL,
    row_count      bigint      NOT NULL,
    completed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, shard_count, shard_index)
);
COMMENT ON TABLE danser.score_shards IS 'Shards of a day''s scoring that have staged and audited their rows; cleared when the day is published.';

-- An empty staging table for one shard of a day (a leftover of a killed attempt is dropped first).
CREATE FUNCTION danser.create_recommendations_shard_staging(day date, shard integer, shards integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    name text := format('recommendations_staging_%s_s%sof%s', to_char(day, 'YYYYMMDD'), shard, shards);
BEGIN
    IF shards < 1 OR shard < 0 OR shard >= shards THEN
        RAISE EXCEPTION 'shard % of % does not exist', shard, shards USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM danser.score_shards WHERE as_of = day AND shard_count = shards AND shard_index = shard;
    EXECUTE format('DROP TABLE IF EXISTS danser.%I', name);
    EXECUTE format('CREATE TABLE danser.%I (LIKE danser.recommendations INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        EXECUTE format('GRANT SELECT, INSERT ON danser.%I TO danser_job', name);
    END IF;
    RETURN name;
END $$;

-- Records one shard as done; when all shards of the day are done with the same model, merges
-- them into the day's staging table and publishes it. Returns the shards still missing (0 when
-- this call published). Runs in the caller's transaction; concurrent shards serialize on a lock.
CREATE FUNCTION danser.complete_recommendations_shard(
    day date, shard integer, shards integer, p_run_id bigint, p_model_version bigint, p_sessions bigint, p_rows bigint)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    done integer;
    models integer;
    total_sessions bigint;
    staging text;
    i integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('danser score shards ' || day::text));
    INSERT INTO danser.score_shards (as_of, shard_count, shard_index, run_id, model_version, sessions, row_count)
    VALUES (day, shards, shard, p_run_id, p_model_version, p_sessions, p_rows)
    ON CONFLICT (as_of, shard_count, shard_index) DO UPDATE SET run_id = EXCLUDED.run_id,
        model_version = EXCLUDED.model_version, sessions = EXCLUDED.sessions, row_count = EXCLUDED.row_count, completed_at = now();
    SELECT count(*), count(DISTINCT model_version), sum(sessions) INTO done, models, total_sessions
    FROM danser.score_shards WHERE as_of = day AND shard_count = shards;
    IF done < shards THEN
        RETURN shards - done;
    END IF;
    IF models <> 1 THEN
        RAISE EXCEPTION 'the shards of % were scored with % different models; rerun them with one champion', day, models
            USING ERRCODE = 'data_exception';
    END IF;
    staging := danser.create_recommendations_staging(day);
    FOR i IN 0 .. shards - 1 LOOP
        EXECUTE format('INSERT INTO danser.%I SELECT * FROM danser.%I', staging,
            format('recommendations_staging_%s_s%sof%s', to_char(day, 'YYYYMMDD'), i, shards));
        EXECUTE format('DROP TABLE danser.%I', format('recommendations_staging_%s_s%sof%s', to_char(day, 'YYYYMMDD'), i, shards));
    END LOOP;
    PERFORM danser.publish_recommendations(day, p_run_id, p_model_version, total_sessions);
    DELETE FROM danser.score_shards WHERE as_of = day AND shard_count = shards;
    RETURN 0;
END $$;

REVOKE ALL ON FUNCTION danser.create_recommendations_shard_staging(date, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.complete_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint) FROM PUBLIC;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.create_recommendations_shard_staging(date, integer, integer) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.complete_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint) TO danser_job;
        GRANT SELECT, INSERT, UPDATE, DELETE ON danser.score_shards TO danser_job;
    END IF;
END $$;
