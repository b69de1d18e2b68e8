-- Views for BI analysts (schema bi). Analysts get SELECT on these only (see roles.sql).

CREATE SCHEMA IF NOT EXISTS bi;
COMMENT ON SCHEMA bi IS 'Read-only views for analysts; stable column names.';

CREATE VIEW bi.recommendations_current AS
SELECT r.session_id, r.rank, r.item_id, r.score, r.model_version, r.as_of, r.run_id, p.published_at
FROM danser.recommendations r
JOIN (SELECT * FROM danser.published_recommendations ORDER BY as_of DESC LIMIT 1) p ON p.as_of = r.as_of;
COMMENT ON VIEW bi.recommendations_current IS 'Top-K next items per session from the newest complete, audited run. One row per (session, rank).';
COMMENT ON COLUMN bi.recommendations_current.session_id IS 'External session id.';
COMMENT ON COLUMN bi.recommendations_current.rank IS '1 = best.';
COMMENT ON COLUMN bi.recommendations_current.item_id IS 'External item id.';
COMMENT ON COLUMN bi.recommendations_current.score IS 'Model score; compare within one session only.';
COMMENT ON COLUMN bi.recommendations_current.model_version IS 'Model that produced the row.';
COMMENT ON COLUMN bi.recommendations_current.as_of IS 'Logical date of the run.';
COMMENT ON COLUMN bi.recommendations_current.published_at IS 'When the run made it current (freshness).';

CREATE VIEW bi.recommendations_history AS
SELECT r.as_of, r.session_id, r.rank, r.item_id, r.score, r.model_version, r.run_id, p.published_at
FROM danser.recommendations r
JOIN danser.published_recommendations p ON p.as_of = r.as_of;
COMMENT ON VIEW bi.recommendations_history IS 'Every published day of recommendations (unpublished or partial days never appear).';

CREATE VIEW bi.runs AS
SELECT run_id, command, as_of, status, started_at, finished_at, model_version, row_counts, timings, metrics, error
FROM danser.runs;
COMMENT ON VIEW bi.runs IS 'The run ledger.';

CREATE VIEW bi.models AS
SELECT model_version, parent_version, mode, status, as_of, trained_through, item_count, dim, metrics, created_at
FROM danser.models;
COMMENT ON VIEW bi.models IS 'The model registry without checkpoints.';
