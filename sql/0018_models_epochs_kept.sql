-- bi.models.epochs now reads the epochs of the model that was kept: the nightly job stores the
-- epoch chosen on validation under hyperparameters.epochs (a fine-tune: its own epochs, 0 when
-- its base model won unchanged), beside max_epochs (the cap) and epochs_trained (the epochs run
-- before the cap or early stopping). Models stored before this migration hold the cap there.
-- Forward-only: never edit this file once applied; add a new numbered migration instead.

COMMENT ON COLUMN bi.models.epochs IS
    'Epochs of the kept model, chosen on validation (a fine-tune: its own epochs; 0 = its base unchanged). hyperparameters has max_epochs (the cap) and epochs_trained. Models stored before migration 0018 hold the cap here.';
