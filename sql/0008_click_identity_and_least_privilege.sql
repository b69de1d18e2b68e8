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
