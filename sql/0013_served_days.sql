-- What served each published day: the registry's model (DANSeR or SR-GNN), a simple contender
-- (V-SKNN, STAN, SR, SLIST) or the blend of the candidate with one of them, and by how much it won
-- the night's contest. The job stores this with the day's audit record
-- (danser.published_recommendations.audit -> 'served') in the same transaction that publishes the
-- day, so a day and what served it appear together. No table changes; bi.days and bi.models keep
-- their columns.

CREATE VIEW bi.served_days AS
SELECT p.as_of,
       coalesce(p.audit -> 'served' ->> 'kind', 'neural') AS served_kind,
       coalesce(p.audit -> 'served' ->> 'name', 'model ' || p.model_version) AS served_name,
       p.audit -> 'served' ->> 'setting' AS served_setting,
       p.model_version,
       (p.audit -> 'served' ->> 'p_at_20')::double precision AS p_at_20,
       (p.audit -> 'served' ->> 'mrr_at_20')::double precision AS mrr_at_20,
       p.audit -> 'served' ->> 'runner_up' AS runner_up,
       (p.audit -> 'served' ->> 'margin_p_at_20')::double precision AS margin_p_at_20,
       (p.audit -> 'served' ->> 'margin_mrr_at_20')::double precision AS margin_mrr_at_20,
       (p.audit -> 'served' ->> 'neural_p_at_20')::double precision AS neural_p_at_20,
       (p.audit -> 'served' ->> 'neural_mrr_at_20')::double precision AS neural_mrr_at_20,
       p.audit -> 'served' ->> 'knn_warning' AS knn_warning,
       (p.audit -> 'served' ->> 'padded_sessions')::bigint AS padded_sessions,
       p.run_id, p.published_at,
       p.as_of = max(p.as_of) OVER () AS is_current
FROM danser.published_recommendations p;
COMMENT ON VIEW bi.served_days IS 'One row per published day: which kind of model served it and by how much it won the night''s contest (MRR@20, then P@20, on the held-out evaluation days). Beside bi.days and bi.models.';
COMMENT ON COLUMN bi.served_days.as_of IS 'Logical date of the day (as in bi.days.as_of).';
COMMENT ON COLUMN bi.served_days.served_kind IS 'neural (the registry''s DANSeR or SR-GNN model, bi.models), vsknn, stan, sr, slist, or blend (the candidate blended with one of them).';
COMMENT ON COLUMN bi.served_days.served_name IS 'candidate or champion for the registry''s model; V-SKNN, STAN, SR, SLIST or blend otherwise.';
COMMENT ON COLUMN bi.served_days.served_setting IS 'The served contender''s tuned hyperparameters (or the blend''s partner and weight); model N for the registry''s model; NULL for days published without a contest.';
COMMENT ON COLUMN bi.served_days.model_version IS 'The registry''s model of the day (bi.days.model_version): the one that served when served_kind is neural, the one a contender served in place of otherwise.';
COMMENT ON COLUMN bi.served_days.p_at_20 IS 'P@20 of what served, in percent, on the held-out evaluation days; NULL without a contest.';
COMMENT ON COLUMN bi.served_days.mrr_at_20 IS 'MRR@20 of what served, in percent, on the held-out evaluation days; NULL without a contest.';
COMMENT ON COLUMN bi.served_days.runner_up IS 'The best of the others by the same rule; NULL when nothing else was scored.';
COMMENT ON COLUMN bi.served_days.margin_p_at_20 IS 'P@20 of what served minus the runner-up''s, in points.';
COMMENT ON COLUMN bi.served_days.margin_mrr_at_20 IS 'MRR@20 of what served minus the runner-up''s, in points (what the rule ranks by first).';
COMMENT ON COLUMN bi.served_days.neural_p_at_20 IS 'P@20 of the registry''s model on the same days, in percent: what serving a contender gained over it.';
COMMENT ON COLUMN bi.served_days.neural_mrr_at_20 IS 'MRR@20 of the registry''s model on the same days, in percent.';
COMMENT ON COLUMN bi.served_days.knn_warning IS 'Set when the candidate''s MRR@20 trailed session kNN''s by more than the night''s --knn-margin: the warning text.';
COMMENT ON COLUMN bi.served_days.padded_sessions IS 'Sessions whose contender list was shorter than K and was filled with the most clicked items it did not list.';
COMMENT ON COLUMN bi.served_days.run_id IS 'Run that published the day (bi.runs.run_id).';
COMMENT ON COLUMN bi.served_days.published_at IS 'When the day became visible.';
COMMENT ON COLUMN bi.served_days.is_current IS 'True for the day bi.recommendations_current shows.';

DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_bi') THEN
        GRANT SELECT ON bi.served_days TO danser_bi;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        GRANT SELECT ON bi.served_days TO danser_job;
    END IF;
END $$;
