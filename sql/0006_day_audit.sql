-- Stages and the day audit: the ledger keeps the stage a run reached and each stage's result; a
-- day is published only after its whole-day audit, which is recorded with it; shards merge into
-- the day's staging table and the day is audited as a whole before it is swapped in.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

ALTER TABLE danser.runs ADD COLUMN stage text;
ALTER TABLE danser.runs ADD COLUMN stage_results jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN danser.runs.stage IS 'Stage the run was in when it last reported, e.g. ingest, train, publish_recommendations: where it stopped if it did not finish.';
COMMENT ON COLUMN danser.runs.stage_results IS 'Result of each stage the run finished, by stage name (e.g. {"gate": {"promote": true, "reason": "..."}}).';

ALTER TABLE danser.published_recommendations ADD COLUMN audit jsonb;
COMMENT ON COLUMN danser.published_recommendations.audit IS 'The day audit the day passed before it was published (sessions, rows, fallback share, the day compared with, the champion check). NULL: published before day audits existed; retention does not count such days.';

ALTER TABLE danser.score_shards ADD COLUMN fallback_sessions bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN danser.score_shards.fallback_sessions IS 'Sessions of the shard that got the popularity fallback (none of their items known to the model).';

-- Records one staged, audited shard as done without publishing anything. Returns the shards still
-- missing (0: every shard of the day is staged and the day can be audited as a whole).
CREATE FUNCTION danser.record_recommendations_shard(
    day date, shard integer, shards integer, p_run_id bigint, p_model_version bigint, p_sessions bigint, p_rows bigint,
    p_fallback_sessions bigint)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    done integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('danser score shards ' || day::text));
    INSERT INTO danser.score_shards (as_of, shard_count, shard_index, run_id, model_version, sessions, row_count, fallback_sessions)
    VALUES (day, shards, shard, p_run_id, p_model_version, p_sessions, p_rows, p_fallback_sessions)
    ON CONFLICT (as_of, shard_count, shard_index) DO UPDATE SET run_id = EXCLUDED.run_id,
        model_version = EXCLUDED.model_version, sessions = EXCLUDED.sessions, row_count = EXCLUDED.row_count,
        fallback_sessions = EXCLUDED.fallback_sessions, completed_at = now();
    SELECT count(*) INTO done FROM danser.score_shards WHERE as_of = day AND shard_count = shards;
    RETURN shards - done;
END $$;
COMMENT ON FUNCTION danser.record_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint, bigint) IS 'Records one staged shard of a day as done, in the caller''s transaction; returns how many shards are still missing.';

-- Merges the staged shards of a complete day into the day's staging table (the shard tables and
-- records go), so the day is audited and published like an unsharded one. Refuses shards scored
-- with different models. In the caller's transaction: a failed audit rolls the merge back.
CREATE FUNCTION danser.merge_recommendations_shards(day date, shards integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    done integer;
    models integer;
    staging text;
    i integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('danser score shards ' || day::text));
    SELECT count(*), count(DISTINCT model_version) INTO done, models
    FROM danser.score_shards WHERE as_of = day AND shard_count = shards;
    IF done < shards THEN
        RAISE EXCEPTION 'only % of % shards of % are staged', done, shards, day USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF models <> 1 THEN
        RAISE EXCEPTION 'the shards of % were scored with % different models; rerun them with one champion', day, models
            USING ERRCODE = 'data_exception';
    END IF;
    staging := danser.create_recommendations_staging(day);
    FOR i IN 0 .. shards - 1 LOOP
        EXECUTE format('INSERT INTO danser.%I SELECT * FROM danser.%I ORDER BY session_id, rank', staging,
            format('recommendations_staging_%s_s%sof%s', to_char(day, 'YYYYMMDD'), i, shards));
        EXECUTE format('DROP TABLE danser.%I', format('recommendations_staging_%s_s%sof%s', to_char(day, 'YYYYMMDD'), i, shards));
    END LOOP;
    DELETE FROM danser.score_shards WHERE as_of = day AND shard_count = shards;
    RETURN staging;
END $$;
COMMENT ON FUNCTION danser.merge_recommendations_shards(date, integer) IS 'Merges the staged shards of a day into its staging table, in the caller''s transaction.';

-- The swap with the audit it passed: the day becomes current only together with its audit record.
CREATE FUNCTION danser.publish_audited_recommendations(day date, p_run_id bigint, p_model_version bigint, p_sessions bigint, p_audit jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
BEGIN
    IF p_audit IS NULL THEN
        RAISE EXCEPTION 'a day is published only with its audit' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM danser.publish_recommendations(day, p_run_id, p_model_version, p_sessions);
    UPDATE danser.published_recommendations SET audit = p_audit WHERE as_of = day;
END $$;
COMMENT ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) IS 'Swaps in an audited staging table as its day''s partition and records the audit it passed, in the caller''s transaction.';

REVOKE ALL ON FUNCTION danser.record_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.merge_recommendations_shards(date, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) FROM PUBLIC;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT EXECUTE ON FUNCTION danser.record_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint, bigint) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.merge_recommendations_shards(date, integer) TO danser_job;
        GRANT EXECUTE ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) TO danser_job;
    END IF;
END $$;
