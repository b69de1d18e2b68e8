-- Views shaped for analysts: one row per published day (bi.days), popularity-fallback rows
-- marked and kept out of model scores, metrics as typed columns (bi.evaluations), each model's
-- lineage (bi.models), the feature store's normalization statistics (bi.normalization_stats,
-- bi.item_statistics), and a description on every column of every view.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

-- Which rows the popularity fallback wrote. Their `score` holds the item's click count, not a
-- model score; the bi views show it as `fallback_clicks` and leave `score` NULL.
-- A constant default makes this a catalogue-only change, whatever the size of the table.
ALTER TABLE danser.recommendations ADD COLUMN is_fallback boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN danser.recommendations.is_fallback IS 'True for rows of the popularity fallback (a session the model knows none of the items of); false for model rows. False for every row of a day published before migration 0009.';
COMMENT ON COLUMN danser.recommendations.score IS 'Model score (higher is better; comparable within one session and model only). For popularity-fallback rows (is_fallback), the item''s click count in the ingested history.';

-- A published day's size, counted once when it is published (inside the publication's
-- transaction) rather than by every reader of bi.days.
ALTER TABLE danser.published_recommendations ADD COLUMN row_count bigint;
ALTER TABLE danser.published_recommendations ADD COLUMN fallback_sessions bigint;
COMMENT ON COLUMN danser.published_recommendations.row_count IS 'Rows of the published day, counted at publication.';
COMMENT ON COLUMN danser.published_recommendations.fallback_sessions IS 'Sessions of the day given the popularity fallback, counted at publication; NULL when unknown (a day published before migration 0009 by a sharded run).';

CREATE FUNCTION danser.count_published_day() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
BEGIN
    SELECT count(*), count(*) FILTER (WHERE is_fallback AND rank = 1)
    INTO NEW.row_count, NEW.fallback_sessions
    FROM danser.recommendations WHERE as_of = NEW.as_of;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION danser.count_published_day() IS 'Trigger: counts the rows and fallback sessions of a day as it is published.';
REVOKE ALL ON FUNCTION danser.count_published_day() FROM PUBLIC;
CREATE TRIGGER count_published_day BEFORE INSERT OR UPDATE OF run_id, published_at ON danser.published_recommendations
    FOR EACH ROW EXECUTE FUNCTION danser.count_published_day();

-- Days published before this migration: rows from the partition; fallback sessions from the
-- publishing run's counts when that run scored the whole day (not one shard of it).
UPDATE danser.published_recommendations p SET
    row_count = (SELECT count(*) FROM danser.recommendations r WHERE r.as_of = p.as_of),
    fallback_sessions = (
        SELECT (u.row_counts ->> 'fallback_sessions')::bigint FROM danser.runs u
        WHERE u.run_id = p.run_id AND (u.row_counts ->> 'sessions_scored')::bigint = p.sessions);

-- ---------------------------------------------------------------------------------------------
-- Recommendations: is_fallback and fallback_clicks added at the end; score NULL on fallback rows.

CREATE OR REPLACE VIEW bi.recommendations_current AS
SELECT r.session_id, r.rank, r.item_id,
       CASE WHEN r.is_fallback THEN NULL ELSE r.score END AS score,
       r.model_version, r.as_of, r.run_id, p.published_at,
       r.is_fallback,
       CASE WHEN r.is_fallback THEN round(r.score)::bigint END AS fallback_clicks
FROM danser.recommendations r
JOIN (SELECT as_of, published_at FROM danser.published_recommendations ORDER BY as_of DESC LIMIT 1) p ON p.as_of = r.as_of;
COMMENT ON VIEW bi.recommendations_current IS 'Top-K next items per session from the newest published day. One row per (session, rank).';
COMMENT ON COLUMN bi.recommendations_current.session_id IS 'Session id exactly as in the click log (text).';
COMMENT ON COLUMN bi.recommendations_current.rank IS '1 = best, up to K (20 by default).';
COMMENT ON COLUMN bi.recommendations_current.item_id IS 'Recommended item id, as in the click log.';
COMMENT ON COLUMN bi.recommendations_current.score IS 'Model score, higher is better; compare within one session only. NULL on popularity-fallback rows (see is_fallback, fallback_clicks).';
COMMENT ON COLUMN bi.recommendations_current.model_version IS 'Model that produced the row (bi.models.model_version); for fallback rows, the model that could not score the session.';
COMMENT ON COLUMN bi.recommendations_current.as_of IS 'Logical date of the run that produced the row: it saw clicks before midnight UTC starting this date.';
COMMENT ON COLUMN bi.recommendations_current.run_id IS 'Run that produced the row (bi.runs.run_id).';
COMMENT ON COLUMN bi.recommendations_current.published_at IS 'When that run made the day visible (freshness: now() - published_at).';
COMMENT ON COLUMN bi.recommendations_current.is_fallback IS 'True when the model knew none of the session''s items and the most clicked items were recommended instead.';
COMMENT ON COLUMN bi.recommendations_current.fallback_clicks IS 'Fallback rows only: the item''s clicks in the ingested history, which ordered the fallback list. NULL on model rows.';

CREATE OR REPLACE VIEW bi.recommendations_history AS
SELECT r.as_of, r.session_id, r.rank, r.item_id,
       CASE WHEN r.is_fallback THEN NULL ELSE r.score END AS score,
       r.model_version, r.run_id, p.published_at,
       r.is_fallback,
       CASE WHEN r.is_fallback THEN round(r.score)::bigint END AS fallback_clicks
FROM danser.recommendations r
JOIN danser.published_recommendations p ON p.as_of = r.as_of;
COMMENT ON VIEW bi.recommendations_history IS 'Every published day still kept by retention (unpublished or partial days never appear). One row per (day, session, rank); filter on as_of.';
COMMENT ON COLUMN bi.recommendations_history.as_of IS 'Logical date of the day; each day is a partition, so a filter on as_of reads only that day.';
COMMENT ON COLUMN bi.recommendations_history.session_id IS 'Session id exactly as in the click log (text).';
COMMENT ON COLUMN bi.recommendations_history.rank IS '1 = best, up to K (20 by default).';
COMMENT ON COLUMN bi.recommendations_history.item_id IS 'Recommended item id, as in the click log.';
COMMENT ON COLUMN bi.recommendations_history.score IS 'Model score, higher is better; compare within one session only. NULL on popularity-fallback rows (see is_fallback, fallback_clicks).';
COMMENT ON COLUMN bi.recommendations_history.model_version IS 'Model that produced the row (bi.models.model_version).';
COMMENT ON COLUMN bi.recommendations_history.run_id IS 'Run that published the day (bi.runs.run_id); a rerun replaces the whole day.';
COMMENT ON COLUMN bi.recommendations_history.published_at IS 'When the day was (last) published.';
COMMENT ON COLUMN bi.recommendations_history.is_fallback IS 'True when the model knew none of the session''s items and the most clicked items were recommended instead. False on every row of a day published before this column existed.';
COMMENT ON COLUMN bi.recommendations_history.fallback_clicks IS 'Fallback rows only: the item''s clicks in the ingested history, which ordered the fallback list. NULL on model rows.';

-- ---------------------------------------------------------------------------------------------
-- One row per published day.

CREATE VIEW bi.days AS
SELECT p.as_of, p.sessions, p.row_count AS recommendation_rows, p.fallback_sessions,
       p.fallback_sessions::double precision / NULLIF(p.sessions, 0) AS fallback_share,
       p.model_version, p.run_id, u.command AS run_command, p.published_at,
       p.as_of = max(p.as_of) OVER () AS is_current
FROM danser.published_recommendations p
LEFT JOIN danser.runs u ON u.run_id = p.run_id;
COMMENT ON VIEW bi.days IS 'One row per published day of recommendations still kept by retention.';
COMMENT ON COLUMN bi.days.as_of IS 'Logical date of the day (as in bi.recommendations_history.as_of).';
COMMENT ON COLUMN bi.days.sessions IS 'Sessions given recommendations that day (active in the hours before as_of).';
COMMENT ON COLUMN bi.days.recommendation_rows IS 'Rows of the day in bi.recommendations_history (sessions x K, or fewer where the catalogue is small or seen items are excluded).';
COMMENT ON COLUMN bi.days.fallback_sessions IS 'Sessions given the popularity fallback instead of model scores; NULL when unknown (a day published by sharded scoring before this view existed).';
COMMENT ON COLUMN bi.days.fallback_share IS 'fallback_sessions / sessions, a fraction from 0 to 1; NULL when either is unknown or there were no sessions.';
COMMENT ON COLUMN bi.days.model_version IS 'Model that scored the day (bi.models.model_version).';
COMMENT ON COLUMN bi.days.run_id IS 'Run that published the day (bi.runs.run_id).';
COMMENT ON COLUMN bi.days.run_command IS 'nightly, or score (a republication with the current champion, without training).';
COMMENT ON COLUMN bi.days.published_at IS 'When the day became visible; a rerun of the day moves it.';
COMMENT ON COLUMN bi.days.is_current IS 'True for the day bi.recommendations_current shows (the newest as_of).';

-- ---------------------------------------------------------------------------------------------
-- Models with their lineage: run, data window, source, configuration and hyperparameters.
-- The job records the source and the fine-tune window in hyperparameters from this version on;
-- for older models those columns are NULL.

CREATE OR REPLACE VIEW bi.models AS
SELECT m.model_version, m.parent_version, m.mode, m.status, m.as_of, m.trained_through, m.item_count, m.dim,
       m.metrics, m.created_at,
       m.run_id,
       COALESCE(m.hyperparameters ->> 'configuration_name', 'srgnn') AS configuration,
       CASE WHEN m.mode = 'fine-tune' THEN
           ((m.as_of - (m.hyperparameters ->> 'evaluation_days')::integer - (m.hyperparameters ->> 'finetune_window_days')::integer)::timestamp
               AT TIME ZONE 'UTC')
       END AS training_from,
       ((m.as_of - (m.hyperparameters ->> 'evaluation_days')::integer)::timestamp AT TIME ZONE 'UTC') AS training_until,
       ((m.as_of - (m.hyperparameters ->> 'evaluation_days')::integer)::timestamp AT TIME ZONE 'UTC') AS evaluation_from,
       (m.as_of::timestamp AT TIME ZONE 'UTC') AS evaluation_until,
       m.hyperparameters -> 'source' ->> 'table' AS source_table,
       m.hyperparameters -> 'source' ->> 'session_column' AS source_session_column,
       m.hyperparameters -> 'source' ->> 'item_column' AS source_item_column,
       m.hyperparameters -> 'source' ->> 'time_column' AS source_time_column,
       (m.hyperparameters ->> 'epochs')::integer AS epochs,
       (m.hyperparameters ->> 'seed')::bigint AS seed,
       (m.hyperparameters ->> 'min_item_clicks')::integer AS min_item_clicks,
       (m.hyperparameters ->> 'evaluation_days')::integer AS evaluation_days,
       (m.hyperparameters -> 'configuration' ->> 'learningRate')::double precision AS learning_rate,
       (m.hyperparameters -> 'configuration' ->> 'batchSize')::integer AS batch_size,
       (m.hyperparameters -> 'configuration' ->> 'propagationSteps')::integer AS propagation_steps,
       m.hyperparameters,
       m.gate_reason
FROM danser.models m;
COMMENT ON VIEW bi.models IS 'The model registry with each model''s lineage (run, data window, source, configuration, hyperparameters), without checkpoints.';
COMMENT ON COLUMN bi.models.model_version IS 'Model id.';
COMMENT ON COLUMN bi.models.parent_version IS 'Model it was fine-tuned from; NULL for a full retrain.';
COMMENT ON COLUMN bi.models.mode IS 'retrain (all clicks before training_until) or fine-tune (the parent, trained further on the recent window).';
COMMENT ON COLUMN bi.models.status IS 'champion (used for scoring; at most one), rejected (failed the promotion gate, or rolled back), retired (a former champion), candidate (never left behind by the job).';
COMMENT ON COLUMN bi.models.as_of IS 'Logical date of the run that trained it.';
COMMENT ON COLUMN bi.models.trained_through IS 'Latest click in its training data.';
COMMENT ON COLUMN bi.models.item_count IS 'Items the model knows (its catalogue).';
COMMENT ON COLUMN bi.models.dim IS 'Embedding width (hidden size).';
COMMENT ON COLUMN bi.models.metrics IS 'Offline evaluation of the night it was trained, in percent, per contender; typed in bi.evaluations.';
COMMENT ON COLUMN bi.models.created_at IS 'When it was stored.';
COMMENT ON COLUMN bi.models.run_id IS 'Run that trained it (bi.runs.run_id).';
COMMENT ON COLUMN bi.models.configuration IS 'Configuration preset it was trained with (srgnn, danser, ...).';
COMMENT ON COLUMN bi.models.training_from IS 'Start of its training clicks (UTC, inclusive) for a fine-tune; NULL for a retrain, which trains on every click before training_until (and for fine-tunes recorded before this column existed).';
COMMENT ON COLUMN bi.models.training_until IS 'End of its training clicks (UTC, exclusive): the start of the evaluation window.';
COMMENT ON COLUMN bi.models.evaluation_from IS 'Start of the held-out evaluation window (UTC, inclusive).';
COMMENT ON COLUMN bi.models.evaluation_until IS 'End of the evaluation window (UTC, exclusive): midnight starting as_of.';
COMMENT ON COLUMN bi.models.source_table IS 'Table the clicks were read from; NULL for models recorded before the source was.';
COMMENT ON COLUMN bi.models.source_session_column IS 'Session id column of source_table.';
COMMENT ON COLUMN bi.models.source_item_column IS 'Item id column of source_table.';
COMMENT ON COLUMN bi.models.source_time_column IS 'Click time column of source_table.';
COMMENT ON COLUMN bi.models.epochs IS 'Training epochs run.';
COMMENT ON COLUMN bi.models.seed IS 'Random seed.';
COMMENT ON COLUMN bi.models.min_item_clicks IS 'Items with fewer training clicks were left out.';
COMMENT ON COLUMN bi.models.evaluation_days IS 'Days before as_of held out for evaluation.';
COMMENT ON COLUMN bi.models.learning_rate IS 'Adam learning rate of the configuration.';
COMMENT ON COLUMN bi.models.batch_size IS 'Session prefixes per training batch.';
COMMENT ON COLUMN bi.models.propagation_steps IS 'Graph propagation steps (receptive fields).';
COMMENT ON COLUMN bi.models.hyperparameters IS 'Everything the job recorded about the training: configuration_name, the full configuration, epochs, seed, evaluation_days, min_item_clicks, finetune_window_days, source.';
COMMENT ON COLUMN bi.models.gate_reason IS 'Why the promotion gate (or an operator) accepted or rejected it.';

-- ---------------------------------------------------------------------------------------------
-- Metrics as typed columns: one row per (model, contender) of the night the model was trained.

CREATE VIEW bi.evaluations AS
SELECT m.model_version, m.as_of, m.run_id,
       ((m.as_of - (m.hyperparameters ->> 'evaluation_days')::integer)::timestamp AT TIME ZONE 'UTC') AS evaluation_from,
       (m.as_of::timestamp AT TIME ZONE 'UTC') AS evaluation_until,
       e.contender,
       (e.scores ->> 'p@20')::double precision AS p_at_20,
       (e.scores ->> 'mrr@20')::double precision AS mrr_at_20,
       (e.scores ->> 'p@10')::double precision AS p_at_10,
       (e.scores ->> 'mrr@10')::double precision AS mrr_at_10,
       (u.row_counts ->> 'evaluation_sessions')::bigint AS evaluation_sessions,
       (u.row_counts ->> 'evaluation_prefixes')::bigint AS evaluation_prefixes
FROM danser.models m
CROSS JOIN LATERAL jsonb_each(m.metrics) AS e(contender, scores)
LEFT JOIN danser.runs u ON u.run_id = m.run_id
WHERE jsonb_typeof(e.scores) = 'object';
COMMENT ON VIEW bi.evaluations IS 'Offline evaluation of each model on its held-out window, one row per (model, contender), metrics in percent. Compare rows of one model_version (one window) with each other; rows of different windows are not comparable.';
COMMENT ON COLUMN bi.evaluations.model_version IS 'The model trained that night (bi.models.model_version).';
COMMENT ON COLUMN bi.evaluations.as_of IS 'Logical date of the night.';
COMMENT ON COLUMN bi.evaluations.run_id IS 'Run that trained and evaluated it (bi.runs.run_id).';
COMMENT ON COLUMN bi.evaluations.evaluation_from IS 'Start of the held-out window (UTC, inclusive).';
COMMENT ON COLUMN bi.evaluations.evaluation_until IS 'End of the held-out window (UTC, exclusive).';
COMMENT ON COLUMN bi.evaluations.contender IS 'candidate (the model trained that night), champion (the model it was compared with; absent on the first night), or a baseline: popularity, session_kNN, ...';
COMMENT ON COLUMN bi.evaluations.p_at_20 IS 'P@20 in percent: share of test prefixes whose next item is in the top 20.';
COMMENT ON COLUMN bi.evaluations.mrr_at_20 IS 'MRR@20 in percent: mean reciprocal rank of the next item, 0 when below rank 20.';
COMMENT ON COLUMN bi.evaluations.p_at_10 IS 'P@10 in percent.';
COMMENT ON COLUMN bi.evaluations.mrr_at_10 IS 'MRR@10 in percent.';
COMMENT ON COLUMN bi.evaluations.evaluation_sessions IS 'Held-out sessions evaluated, from the run''s counts.';
COMMENT ON COLUMN bi.evaluations.evaluation_prefixes IS 'Held-out session prefixes scored (each predicts its next item), from the run''s counts.';

-- ---------------------------------------------------------------------------------------------
-- The feature store's normalization statistics.

CREATE VIEW bi.normalization_stats AS
SELECT s.model_version, s.total_clicks, s.item_count, s.session_prior_mean, s.session_prior_sd,
       (s.learned_scalars ->> 'b0')::double precision AS b0,
       (s.learned_scalars ->> 'b1')::double precision AS b1,
       (s.learned_scalars ->> 'rho')::double precision AS rho,
       s.learned_scalars
FROM danser.normalization_stats s;
COMMENT ON VIEW bi.normalization_stats IS 'User-behaviour normalization of each model (MODEL.md section 5): one row per model.';
COMMENT ON COLUMN bi.normalization_stats.model_version IS 'Model (bi.models.model_version).';
COMMENT ON COLUMN bi.normalization_stats.total_clicks IS 'C: training clicks of known items.';
COMMENT ON COLUMN bi.normalization_stats.item_count IS 'N: items of the model.';
COMMENT ON COLUMN bi.normalization_stats.session_prior_mean IS 'mu: mean over training sessions of the session-mean log prior.';
COMMENT ON COLUMN bi.normalization_stats.session_prior_sd IS 'sd: standard deviation of the session-mean log prior.';
COMMENT ON COLUMN bi.normalization_stats.b0 IS 'Learned scalar b0 of the popularity term; NULL or 0 for a model that does not use the normalization.';
COMMENT ON COLUMN bi.normalization_stats.b1 IS 'Learned scalar b1 (weight of the session''s popularity taste).';
COMMENT ON COLUMN bi.normalization_stats.rho IS 'Learned scalar rho of the repeat term.';
COMMENT ON COLUMN bi.normalization_stats.learned_scalars IS 'Every learned scalar by name, as stored.';

CREATE VIEW bi.item_statistics AS
SELECT s.model_version, i.external_id AS item_id, s.item_index, s.click_count, s.log_prior
FROM danser.item_statistics s
JOIN danser.items i ON i.item_index = s.item_index;
COMMENT ON VIEW bi.item_statistics IS 'Per-item normalization statistics of each model: one row per (model, item). Filter on model_version.';
COMMENT ON COLUMN bi.item_statistics.model_version IS 'Model (bi.models.model_version).';
COMMENT ON COLUMN bi.item_statistics.item_id IS 'Item id as in the click log.';
COMMENT ON COLUMN bi.item_statistics.item_index IS 'The model''s dense index of the item (1..N; row of the embedding export).';
COMMENT ON COLUMN bi.item_statistics.click_count IS 'c_j: the item''s training clicks.';
COMMENT ON COLUMN bi.item_statistics.log_prior IS 'pi_j = log((c_j + 1) / (C + N)).';

-- ---------------------------------------------------------------------------------------------
-- The remaining columns without a description.

COMMENT ON COLUMN bi.runs.run_id IS 'Increasing run number.';
COMMENT ON COLUMN bi.runs.command IS 'nightly (also each date of a backfill), score (a republication without training), or import (one click file loaded).';
COMMENT ON COLUMN bi.runs.as_of IS 'Logical date the run worked for; NULL for import.';
COMMENT ON COLUMN bi.runs.status IS 'running, succeeded, failed, skipped (lock held or date already done), interrupted (stopped by a signal; nothing half-published).';
COMMENT ON COLUMN bi.runs.started_at IS 'Start.';
COMMENT ON COLUMN bi.runs.finished_at IS 'End; NULL while running.';
COMMENT ON COLUMN bi.runs.model_version IS 'Model the run scored with (or, for a run that failed before scoring, the candidate it trained); NULL if none.';
COMMENT ON COLUMN bi.runs.row_counts IS 'Counts by stage: clicks, sessions, items, training_sessions, evaluation_sessions, sessions_scored, recommendation_rows, fallback_sessions, ...';
COMMENT ON COLUMN bi.runs.timings IS 'Seconds by stage: ingest, prepare, train, evaluate, publish_features, score.';
COMMENT ON COLUMN bi.runs.metrics IS 'Offline evaluation in percent per contender, as in bi.models.metrics; typed in bi.evaluations.';
COMMENT ON COLUMN bi.runs.error IS 'Reason of a failed or skipped run.';

-- Analysts and the job read every view in bi (roles.sql grants views created by the same owner
-- by default; restated for a database whose roles were set up by another role).
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_bi') THEN
        GRANT SELECT ON bi.days, bi.evaluations, bi.normalization_stats, bi.item_statistics TO danser_bi;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT SELECT ON bi.days, bi.evaluations, bi.normalization_stats, bi.item_statistics TO danser_job;
    END IF;
END $$;
