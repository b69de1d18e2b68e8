-- The epoch is now chosen, and training stops early, on validation P@20 + MRR@20 (then MRR@20)
-- rather than MRR@20 first: bi.models.patience counts epochs without a better sum. Models stored
-- before this migration were chosen and stopped on MRR@20 first.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

COMMENT ON COLUMN bi.models.patience IS
    'Epochs without a better validation P@20 + MRR@20 before training stopped (models stored before migration 0019: without a better MRR@20).';
