-- Roles of DANSeR batch. Run after `migrate`, as the role that ran the migrations, which
-- needs CREATEROLE (`danser-batch migrate --roles` does both). Idempotent.
--   danser_job: the nightly job and import: reads and writes schema danser, but not the migration
--               record nor published history (only through its SECURITY DEFINER functions); no DDL.
--   danser_bi:  analysts: SELECT on the views in schema bi only; never writes, never sees danser.*
-- Give people logins with, e.g.: CREATE ROLE alice LOGIN IN ROLE danser_bi;

DO $$ BEGIN CREATE ROLE danser_job NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE danser_bi NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
COMMENT ON ROLE danser_job IS 'DANSeR batch job: read/write on schema danser.';
COMMENT ON ROLE danser_bi IS 'DANSeR BI analysts: read-only on the views of schema bi.';

REVOKE ALL ON SCHEMA danser FROM PUBLIC;
REVOKE ALL ON SCHEMA bi FROM PUBLIC;

GRANT USAGE ON SCHEMA danser TO danser_job;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA danser TO danser_job;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA danser TO danser_job;
GRANT EXECUTE ON FUNCTION danser.ensure_recommendations_partition(date) TO danser_job;
ALTER DEFAULT PRIVILEGES IN SCHEMA danser GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO danser_job;
ALTER DEFAULT PRIVILEGES IN SCHEMA danser GRANT USAGE, SELECT ON SEQUENCES TO danser_job;

-- BI reads through the views (owned by the schema owner), so partitions created later are
-- visible through them without any new grant; future views in bi are granted by default.
GRANT USAGE ON SCHEMA bi TO danser_bi, danser_job;
GRANT SELECT ON ALL TABLES IN SCHEMA bi TO danser_bi, danser_job;
ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO danser_bi, danser_job;

-- Publication functions of migration 0003 (harmless to repeat).
GRANT EXECUTE ON FUNCTION danser.create_recommendations_staging(date) TO danser_job;
GRANT EXECUTE ON FUNCTION danser.drop_recommendations_day(date) TO danser_job;
-- Staging filled by COPY ... FREEZE, migration 0014.
GRANT EXECUTE ON FUNCTION danser.prepare_recommendations_staging(text) TO danser_job;
-- A day's staging table split by rank, each part keyed by its own connection, migration 0017.
GRANT EXECUTE ON FUNCTION danser.create_recommendations_staging(date, smallint[]) TO danser_job;
GRANT EXECUTE ON FUNCTION danser.key_recommendations_staging_part(text) TO danser_job;

-- Sharded scoring of migration 0004 (harmless to repeat).
GRANT EXECUTE ON FUNCTION danser.create_recommendations_shard_staging(date, integer, integer) TO danser_job;
GRANT SELECT, INSERT, UPDATE, DELETE ON danser.score_shards TO danser_job;

-- Day audit and sharded publication of migration 0006 (harmless to repeat).
GRANT EXECUTE ON FUNCTION danser.record_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint, bigint) TO danser_job;
GRANT EXECUTE ON FUNCTION danser.merge_recommendations_shards(date, integer) TO danser_job;
GRANT EXECUTE ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) TO danser_job;

-- The job lease of migration 0007: only the job (and the owner) may take or release it.
REVOKE ALL ON danser.job_lease FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON danser.job_lease TO danser_job;

-- Least privilege of migration 0008, restated after the broad grants above: the job never writes
-- the migration record or published history except through its own functions, which publish a
-- day and seal its partition (read-only for the job from then on).
GRANT EXECUTE ON FUNCTION danser.publish_recommendations_day(date, bigint, bigint, bigint) TO danser_job;
GRANT EXECUTE ON FUNCTION danser.complete_recommendations_shard_day(date, integer, integer, bigint, bigint, bigint, bigint) TO danser_job;
REVOKE EXECUTE ON FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) FROM danser_job;
REVOKE EXECUTE ON FUNCTION danser.complete_recommendations_shard(date, integer, integer, bigint, bigint, bigint, bigint) FROM danser_job;
GRANT EXECUTE ON FUNCTION danser.publish_audited_recommendations_day(date, bigint, bigint, bigint, jsonb) TO danser_job;
REVOKE EXECUTE ON FUNCTION danser.publish_audited_recommendations(date, bigint, bigint, bigint, jsonb) FROM danser_job;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.schema_migrations FROM danser_job;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.published_recommendations FROM danser_job;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.recommendations FROM danser_job;
-- The registry's history of migration 0012: written only by the trigger on danser.models.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.model_transitions FROM danser_job;
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT as_of FROM danser.published_recommendations LOOP
        PERFORM danser.seal_recommendations_day(day);
    END LOOP;
END $$;
