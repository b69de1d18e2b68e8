-- DANSeR batch feature store: every table the nightly job, import and BI use.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

CREATE SCHEMA IF NOT EXISTS danser;
COMMENT ON SCHEMA danser IS 'DANSeR batch: click log, feature store, run ledger. Written by the job role only.';

-- Imports: one row per imported file, keyed by its content hash so a re-import is a no-op.
CREATE TABLE danser.imports (
    import_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name         text        NOT NULL,
    file_sha256       text        NOT NULL UNIQUE,
    format            text        NOT NULL,
    rows_imported     bigint      NOT NULL DEFAULT 0,
    rows_quarantined  bigint      NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
COMMENT ON TABLE danser.imports IS 'One row per click file loaded by danser-batch import; the file''s SHA-256 makes re-imports no-ops.';
COMMENT ON COLUMN danser.imports.file_name IS 'File name as given on the command line (no folder).';
COMMENT ON COLUMN danser.imports.file_sha256 IS 'SHA-256 of the file bytes as stored (compressed bytes for .gz).';
COMMENT ON COLUMN danser.imports.format IS 'Detected input format: generic-csv, diginetica, yoochoose, yoochoose-tsv, retailrocket.';
COMMENT ON COLUMN danser.imports.rows_imported IS 'Rows written to click_log.';
COMMENT ON COLUMN danser.imports.rows_quarantined IS 'Rows set aside in quarantine.';

-- Click log: the default source of sessions. Append-only; the job only reads it.
CREATE TABLE danser.click_log (
    session_id  text        NOT NULL,
    item_id     text        NOT NULL,
    event_time  timestamptz NOT NULL,
    import_id   bigint
);
CREATE INDEX click_log_event_time_brin ON danser.click_log USING brin (event_time);
COMMENT ON TABLE danser.click_log IS 'Anonymous click events, one row per click. Distribution column: session_id.';
COMMENT ON COLUMN danser.click_log.session_id IS 'External session id, kept as text exactly as it came.';
COMMENT ON COLUMN danser.click_log.item_id IS 'External item id, kept as text exactly as it came.';
COMMENT ON COLUMN danser.click_log.event_time IS 'When the click happened (UTC).';
COMMENT ON COLUMN danser.click_log.import_id IS 'danser.imports row that loaded it; NULL for rows written by other tools.';

-- Item vocabulary: external id <-> dense index used by the model. Grows, never renumbers.
CREATE TABLE danser.items (
    item_index   integer     PRIMARY KEY CHECK (item_index >= 1),
    external_id  text        NOT NULL UNIQUE,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    click_count  bigint      NOT NULL DEFAULT 0
);
COMMENT ON TABLE danser.items IS 'Item vocabulary: external item id to the model''s dense index (1..N; 0 is padding). Never renumbered.';
COMMENT ON COLUMN danser.items.item_index IS 'Dense index, assigned once in order of first appearance; never changes.';
COMMENT ON COLUMN danser.items.external_id IS 'Item id as in the click log.';
COMMENT ON COLUMN danser.items.click_count IS 'Clicks seen up to the last ingest.';

CREATE FUNCTION danser.items_never_renumber() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'items are never deleted (item_index %)', OLD.item_index USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.item_index <> OLD.item_index OR NEW.external_id <> OLD.external_id THEN
        RAISE EXCEPTION 'items are never renumbered (item_index %)', OLD.item_index USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER items_never_renumber BEFORE UPDATE OR DELETE ON danser.items
    FOR EACH ROW EXECUTE FUNCTION danser.items_never_renumber();

-- Run ledger: one row per run of a command.
CREATE TABLE danser.runs (
    run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command        text        NOT NULL,
    as_of          date,
    status         text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'interrupted')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    model_version  bigint,
    row_counts     jsonb       NOT NULL DEFAULT '{}',
    timings        jsonb       NOT NULL DEFAULT '{}',
    metrics        jsonb       NOT NULL DEFAULT '{}',
    error          text,
    host           text,
    pid            integer
);
CREATE INDEX runs_command_as_of ON danser.runs (command, as_of);
COMMENT ON TABLE danser.runs IS 'Run ledger: every nightly, backfill and import run, with status, timings and counts.';
COMMENT ON COLUMN danser.runs.command IS 'nightly, backfill, import, ...';
COMMENT ON COLUMN danser.runs.as_of IS 'Logical date the run worked for (its data ends before this date).';
COMMENT ON COLUMN danser.runs.status IS 'running, succeeded, failed, skipped (lock held or already done), interrupted.';
COMMENT ON COLUMN danser.runs.row_counts IS 'Counts by stage, e.g. {"clicks": 982961, "quarantined": 0}.';
COMMENT ON COLUMN danser.runs.timings IS 'Seconds by stage.';
COMMENT ON COLUMN danser.runs.metrics IS 'Evaluation metrics, e.g. {"p@20": 0.51, "mrr@20": 0.17}.';
COMMENT ON COLUMN danser.runs.error IS 'One-line error for failed runs (never passwords or row values).';

-- Models: every trained model, champion or not.
CREATE TABLE danser.models (
    model_version    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_version   bigint REFERENCES danser.models,
    mode             text        NOT NULL CHECK (mode IN ('retrain', 'fine-tune')),
    status           text        NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'champion', 'rejected', 'retired')),
    as_of            date        NOT NULL,
    trained_through  timestamptz NOT NULL,
    item_count       integer     NOT NULL,
    dim              integer     NOT NULL,
    hyperparameters  jsonb       NOT NULL DEFAULT '{}',
    metrics          jsonb       NOT NULL DEFAULT '{}',
    checkpoint       bytea,
    run_id           bigint REFERENCES danser.runs,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX models_one_champion ON danser.models ((true)) WHERE status = 'champion';
COMMENT ON TABLE danser.models IS 'Model registry. At most one champion; rejected candidates are kept.';
COMMENT ON COLUMN danser.models.parent_version IS 'Model it was fine-tuned from; NULL for a full retrain.';
COMMENT ON COLUMN danser.models.trained_through IS 'Latest click time in its training data (the fine-tune watermark).';
COMMENT ON COLUMN danser.models.item_count IS 'Items in its vocabulary (embedding rows minus padding).';
COMMENT ON COLUMN danser.models.dim IS 'Embedding width d.';
COMMENT ON COLUMN danser.models.checkpoint IS 'Full training checkpoint (weights and optimizer state), for warm starts and resume.';

-- Item embeddings: per model version, chunked self-describing blobs.
CREATE TABLE danser.item_embeddings (
    model_version  bigint   NOT NULL REFERENCES danser.models ON DELETE CASCADE,
    chunk_index    integer  NOT NULL CHECK (chunk_index >= 0),
    first_row      integer  NOT NULL,
    row_count      integer  NOT NULL CHECK (row_count > 0),
    dim            integer  NOT NULL CHECK (dim > 0),
    codec          text     NOT NULL CHECK (codec IN ('raw', 'lz4', 'shuffle+lz4')),
    dtype          text     NOT NULL DEFAULT 'float32' CHECK (dtype = 'float32'),
    checksum       bigint   NOT NULL,
    blob           bytea    NOT NULL,
    PRIMARY KEY (model_version, chunk_index)
);
COMMENT ON TABLE danser.item_embeddings IS 'Item embedding table of each model, in chunks of rows. Distribution column: model_version.';
COMMENT ON COLUMN danser.item_embeddings.first_row IS 'Index of the chunk''s first row in the whole table (row 0 = padding).';
COMMENT ON COLUMN danser.item_embeddings.codec IS 'raw, lz4, or shuffle+lz4 (byte shuffle, then LZ4).';
COMMENT ON COLUMN danser.item_embeddings.checksum IS 'CRC-32 of the decoded float32 bytes, as in the blob header.';
COMMENT ON COLUMN danser.item_embeddings.blob IS 'Self-describing blob: 32-byte header (magic, version, codec, dtype, rows, dim, first row, length, CRC-32) then payload.';

-- Normalization statistics: global figures per model version, and per item.
CREATE TABLE danser.normalization_stats (
    model_version       bigint PRIMARY KEY REFERENCES danser.models ON DELETE CASCADE,
    total_clicks        bigint           NOT NULL,
    item_count          integer          NOT NULL,
    session_prior_mean  double precision NOT NULL,
    session_prior_sd    double precision NOT NULL,
    learned_scalars     jsonb            NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE danser.normalization_stats IS 'User-behaviour normalization of each model (MODEL.md section 5): global statistics and learned scalars.';
COMMENT ON COLUMN danser.normalization_stats.total_clicks IS 'C: training clicks.';
COMMENT ON COLUMN danser.normalization_stats.session_prior_mean IS 'mu: mean over sessions of the session-mean log prior.';
COMMENT ON COLUMN danser.normalization_stats.session_prior_sd IS 'sd: standard deviation of the session-mean log prior.';
COMMENT ON COLUMN danser.normalization_stats.learned_scalars IS 'The learned popularity and repetition weights, by name.';

CREATE TABLE danser.item_statistics (
    model_version  bigint  NOT NULL REFERENCES danser.models ON DELETE CASCADE,
    item_index     integer NOT NULL,
    click_count    bigint  NOT NULL,
    log_prior      real    NOT NULL,
    PRIMARY KEY (model_version, item_index)
);
COMMENT ON TABLE danser.item_statistics IS 'Per-item normalization statistics of each model: click count c_j and log prior pi_j.';

-- Recommendations: top-K per session and logical date, one partition per as_of.
CREATE TABLE danser.recommendations (
    as_of          date    NOT NULL,
    session_id     text    NOT NULL,
    rank           smallint NOT NULL CHECK (rank >= 1),
    item_id        text    NOT NULL,
    score          real    NOT NULL,
    model_version  bigint  NOT NULL,
    run_id         bigint  NOT NULL,
    PRIMARY KEY (as_of, session_id, rank)
) PARTITION BY LIST (as_of);
COMMENT ON TABLE danser.recommendations IS 'Precomputed top-K next items, one row per (as_of, session, rank); partitioned by as_of. Distribution column: session_id.';
COMMENT ON COLUMN danser.recommendations.as_of IS 'Logical date of the run that produced the row.';
COMMENT ON COLUMN danser.recommendations.rank IS '1 = best.';
COMMENT ON COLUMN danser.recommendations.item_id IS 'External item id.';
COMMENT ON COLUMN danser.recommendations.score IS 'Model score (higher is better; comparable within one session and model only).';

CREATE TABLE danser.published_recommendations (
    as_of          date        PRIMARY KEY,
    run_id         bigint      NOT NULL,
    model_version  bigint      NOT NULL,
    sessions       bigint      NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE danser.published_recommendations IS 'Audited, complete recommendation partitions. The newest row is what BI sees as current.';

-- Creates the partition for one as_of if missing; runs as the schema owner so the job role can call it.
CREATE FUNCTION danser.ensure_recommendations_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    name text := 'recommendations_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('danser.' || name) IS NULL THEN
        EXECUTE format('CREATE TABLE danser.%I PARTITION OF danser.recommendations FOR VALUES IN (%L)', name, day);
    END IF;
    RETURN 'danser.' || name;
END $$;
COMMENT ON FUNCTION danser.ensure_recommendations_partition(date) IS 'Creates (if needed) and names the recommendations partition of one logical date.';

-- Quarantine: rows that could not be used, with where they came from and why.
CREATE TABLE danser.quarantine (
    quarantine_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id      bigint REFERENCES danser.imports ON DELETE CASCADE,
    run_id         bigint REFERENCES danser.runs,
    source         text        NOT NULL,
    line_number    bigint,
    reason         text        NOT NULL,
    raw_line       text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_import ON danser.quarantine (import_id);
COMMENT ON TABLE danser.quarantine IS 'Bad input rows, never silently dropped: source, line and reason.';
COMMENT ON COLUMN danser.quarantine.source IS 'File name (import) or table name (ingest).';
COMMENT ON COLUMN danser.quarantine.line_number IS 'Line in the file, counting the header as line 1.';
COMMENT ON COLUMN danser.quarantine.reason IS 'What was wrong: missing field, non-numeric id, unparseable timestamp, timestamp in the future, invalid UTF-8, line too long.';
COMMENT ON COLUMN danser.quarantine.raw_line IS 'The line as read (at most 1,000 characters; invalid UTF-8 replaced).';

-- Watermarks: how far each consumer has read.
CREATE TABLE danser.watermarks (
    name        text        PRIMARY KEY,
    value       timestamptz NOT NULL,
    run_id      bigint REFERENCES danser.runs,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE danser.watermarks IS 'High-water marks by name, e.g. ingest: latest event_time consumed.';
