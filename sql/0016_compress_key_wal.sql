-- Publishing a day writes its key twice: into the index file, and into the WAL as full-page
-- images of every index page (85 MB each for 2,000,000 rows). The swap compresses those images
-- with LZ4 (about 90 MB of WAL down to about 29 MB for 2,000,000 rows): less to write and to
-- sync at commit, with the same durability (the images are still logged and synced; a replica
-- or a recovery decompresses them). Only full-page images are compressed; the rows of the
-- COPY are logged as before.
-- wal_compression may be set only by a superuser or a role granted SET on it (PostgreSQL 15),
-- and a server built without LZ4 lacks the setting: the swap then runs as before.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

DO $$
DECLARE
    swap regprocedure := 'danser.publish_recommendations(date, bigint, bigint, bigint)'::regprocedure;
    owner_name name;
    allowed boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_settings WHERE name = 'wal_compression' AND 'lz4' = ANY (enumvals)) THEN
        RETURN;
    END IF;
    SELECT r.rolname, r.rolsuper INTO owner_name, allowed FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE p.oid = swap;
    -- The setting applies with the owner's rights (the swap is SECURITY DEFINER); altering the
    -- function needs them too, so the owner must be the role running the migration.
    IF owner_name <> current_user THEN
        RETURN;
    END IF;
    IF NOT allowed AND current_setting('server_version_num')::int >= 150000 THEN
        EXECUTE 'SELECT has_parameter_privilege(current_user, ''wal_compression'', ''SET'')' INTO allowed;
    END IF;
    IF allowed THEN
        ALTER FUNCTION danser.publish_recommendations(date, bigint, bigint, bigint) SET wal_compression = 'lz4';
    END IF;
END $$;
