-- The model registry's history: every change of a model's status (the gate's verdict, an
-- operator's promote, rollback or retire, and anything else that updates danser.models.status)
-- is recorded by a trigger in danser.model_transitions, with time, the database login that made
-- it, the reason and the operator's own --reason. The job cannot write or rewrite that history
-- except by changing a model, which the trigger records. A model can now be retired from the
-- registry (status archived: never again a rollback target, a backfill's model or a rerun's
-- reuse). bi.models gains the rest of each model's lineage and its last change.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

ALTER TABLE danser.models DROP CONSTRAINT models_status_check;
ALTER TABLE danser.models ADD CONSTRAINT models_status_check
    CHECK (status IN ('candidate', 'champion', 'rejected', 'retired', 'archived'));
COMMENT ON COLUMN danser.models.status IS 'champion (scores; at most one), candidate (passed its gate but not promoted, e.g. a backfilled date), rejected (failed its gate, or rolled back), retired (a former champion; the newest is the rollback target), archived (retired from the registry by an operator: never chosen again).';

CREATE TABLE danser.model_transitions (
    transition_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    model_version    bigint      NOT NULL,
    from_status      text,
    to_status        text        NOT NULL,
    action           text        NOT NULL
        CHECK (action IN ('train', 'gate', 'promote', 'rollback', 'retire', 'manual', 'migrated')),
    reason           text,
    operator_reason  text,
    run_id           bigint,
    actor            text        NOT NULL DEFAULT session_user,
    actor_role       text,
    transaction_id   bigint      NOT NULL DEFAULT txid_current()
);
CREATE INDEX model_transitions_model ON danser.model_transitions (model_version, transition_id);
COMMENT ON TABLE danser.model_transitions IS 'History of the model registry: one row per change of a model''s status, written only by the trigger on danser.models. Rows outlive the models that prune deletes.';
COMMENT ON COLUMN danser.model_transitions.transition_id IS 'Order of the changes.';
COMMENT ON COLUMN danser.model_transitions.at IS 'When the change was made (start of its transaction).';
COMMENT ON COLUMN danser.model_transitions.model_version IS 'Model whose status changed (danser.models.model_version; it may since have been pruned).';
COMMENT ON COLUMN danser.model_transitions.from_status IS 'Status before; NULL when the model was stored.';
COMMENT ON COLUMN danser.model_transitions.to_status IS 'Status after.';
COMMENT ON COLUMN danser.model_transitions.action IS 'train (stored by a run), gate (the nightly gate''s verdict, including automatic promotion), promote, rollback or retire (models promote|rollback|retire), manual (an UPDATE outside the job), migrated (state when this history began).';
COMMENT ON COLUMN danser.model_transitions.reason IS 'Why, as the job put it: the gate''s verdict, or what the command did.';
COMMENT ON COLUMN danser.model_transitions.operator_reason IS 'The --reason an operator gave; NULL when none.';
COMMENT ON COLUMN danser.model_transitions.run_id IS 'Ledger row of the run or command that made the change (danser.runs.run_id).';
COMMENT ON COLUMN danser.model_transitions.actor IS 'Database login that made the change (session_user).';
COMMENT ON COLUMN danser.model_transitions.actor_role IS 'Role set with SET ROLE at the time, when one was.';
COMMENT ON COLUMN danser.model_transitions.transaction_id IS 'Transaction of the change: the rows of one promote or rollback share it.';

-- The job passes the action and reasons of a change in transaction-local settings
-- (set_config(..., true)); a change without them is recorded as manual.
CREATE FUNCTION danser.record_model_transition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, danser AS $$
DECLARE
    setting_action text := nullif(current_setting('danser.transition_action', true), '');
    setting_run text := nullif(current_setting('danser.transition_run', true), '');
    role_setting text := nullif(current_setting('role', true), 'none');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO danser.model_transitions (model_version, from_status, to_status, action, reason, run_id, actor_role)
        VALUES (NEW.model_version, NULL, NEW.status, 'train', 'stored by the run that trained it', NEW.run_id, role_setting);
    ELSE
        INSERT INTO danser.model_transitions
            (model_version, from_status, to_status, action, reason, operator_reason, run_id, actor_role)
        VALUES (
            NEW.model_version, OLD.status, NEW.status, coalesce(setting_action, 'manual'),
            CASE WHEN setting_action IS NULL THEN 'status changed outside danser-batch'
                 ELSE nullif(current_setting('danser.transition_reason', true), '') END,
            nullif(current_setting('danser.transition_note', true), ''),
            setting_run::bigint, role_setting);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION danser.record_model_transition() IS 'Trigger: records a stored model and every change of a model''s status in danser.model_transitions.';
REVOKE ALL ON FUNCTION danser.record_model_transition() FROM PUBLIC;
CREATE TRIGGER record_model_stored AFTER INSERT ON danser.models
    FOR EACH ROW EXECUTE FUNCTION danser.record_model_transition();
CREATE TRIGGER record_model_transition AFTER UPDATE OF status ON danser.models
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION danser.record_model_transition();

-- Models stored before the history began: their state now.
INSERT INTO danser.model_transitions (at, model_version, from_status, to_status, action, reason, run_id, actor)
SELECT now(), model_version, NULL, status, 'migrated', gate_reason, run_id, session_user
FROM danser.models ORDER BY model_version;

-- ---------------------------------------------------------------------------------------------
-- For analysts.

CREATE VIEW bi.model_transitions AS
SELECT t.transition_id, t.at, t.model_version, t.from_status, t.to_status, t.action, t.reason, t.operator_reason,
       t.actor, t.actor_role, t.run_id, t.transaction_id
FROM danser.model_transitions t;
COMMENT ON VIEW bi.model_transitions IS 'History of the model registry: every model stored and every change of status (gate verdicts, promote, rollback, retire), oldest first by transition_id.';
COMMENT ON COLUMN bi.model_transitions.transition_id IS 'Order of the changes.';
COMMENT ON COLUMN bi.model_transitions.at IS 'When the change was made.';
COMMENT ON COLUMN bi.model_transitions.model_version IS 'Model whose status changed (bi.models.model_version; absent there once pruned).';
COMMENT ON COLUMN bi.model_transitions.from_status IS 'Status before; NULL when the model was stored.';
COMMENT ON COLUMN bi.model_transitions.to_status IS 'Status after: candidate, champion, rejected, retired or archived.';
COMMENT ON COLUMN bi.model_transitions.action IS 'train (stored by a run), gate (the nightly gate, including automatic promotion), promote, rollback, retire (an operator''s command), manual (changed outside the job), migrated (state when the history began).';
COMMENT ON COLUMN bi.model_transitions.reason IS 'Why, as the job put it (the gate''s verdict, or what the command did).';
COMMENT ON COLUMN bi.model_transitions.operator_reason IS 'The reason an operator gave with --reason; NULL when none.';
COMMENT ON COLUMN bi.model_transitions.actor IS 'Database login that made the change.';
COMMENT ON COLUMN bi.model_transitions.actor_role IS 'Role set with SET ROLE at the time, when one was.';
COMMENT ON COLUMN bi.model_transitions.run_id IS 'Run or command that made the change (bi.runs.run_id).';
COMMENT ON COLUMN bi.model_transitions.transaction_id IS 'Transaction of the change: the rows of one promote or rollback share it.';

-- bi.models: the rest of the lineage (fingerprint, base model, fine-tune window, validation) and
-- the model's last change, appended after the columns of 0009.
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
       m.gate_reason,
       m.fingerprint,
       (m.hyperparameters ->> 'base_version')::bigint AS base_version,
       (m.hyperparameters ->> 'finetune_window_days')::integer AS finetune_window_days,
       m.hyperparameters ->> 'validation' AS validation,
       (m.hyperparameters ->> 'patience')::integer AS patience,
       t.at AS last_change_at,
       t.action AS last_change_action,
       t.actor AS last_change_actor,
       coalesce(t.operator_reason, t.reason) AS last_change_reason
FROM danser.models m
LEFT JOIN LATERAL (
    SELECT x.at, x.action, x.actor, x.reason, x.operator_reason FROM danser.model_transitions x
    WHERE x.model_version = m.model_version ORDER BY x.transition_id DESC LIMIT 1
) t ON true;
COMMENT ON COLUMN bi.models.status IS 'champion (used for scoring; at most one), candidate (passed its gate but not promoted, e.g. a backfilled date), rejected (failed the promotion gate, or rolled back), retired (a former champion), archived (retired from the registry by an operator). How it got there: bi.model_transitions.';
COMMENT ON COLUMN bi.models.fingerprint IS 'Hash of what determines the model (data cut-off, mode, parent, configuration, epochs, seed); a rerun of the night with the same fingerprint reuses it.';
COMMENT ON COLUMN bi.models.base_version IS 'Model that served the night it was trained (the champion it was evaluated against); NULL on the first night.';
COMMENT ON COLUMN bi.models.finetune_window_days IS 'Days of recent clicks a fine-tune trains on (recorded for retrains too, unused there).';
COMMENT ON COLUMN bi.models.validation IS 'How the validation split was cut from the training clicks (a fraction of sessions, or days).';
COMMENT ON COLUMN bi.models.patience IS 'Epochs without a better validation MRR@20 before training stopped.';
COMMENT ON COLUMN bi.models.last_change_at IS 'When its status last changed (bi.model_transitions).';
COMMENT ON COLUMN bi.models.last_change_action IS 'What made that change: train, gate, promote, rollback, retire, manual or migrated.';
COMMENT ON COLUMN bi.models.last_change_actor IS 'Database login that made that change.';
COMMENT ON COLUMN bi.models.last_change_reason IS 'The operator''s --reason for that change, else the job''s reason.';

-- Least privilege: the job reads the history and writes it only by changing models (the
-- trigger); analysts and the job read the view. Restated in roles.sql after its broad grants.
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_job') THEN
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON danser.model_transitions FROM danser_job;
        GRANT SELECT ON danser.model_transitions TO danser_job;
        GRANT SELECT ON bi.model_transitions TO danser_job;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'danser_bi') THEN
        GRANT SELECT ON bi.model_transitions TO danser_bi;
    END IF;
END $$;
