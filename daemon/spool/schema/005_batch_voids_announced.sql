-- Schema 5. Batch format sennen-edge-batch/2 numbers batches per site (the seq column) and lets
-- the central side tell a voided batch from one lost on the way: every voided batch's seq is
-- announced in the manifest of the next batch sealed after it. announced_in names that batch; it
-- is set in the transaction that creates the batch, and cleared again if that batch is voided too
-- (so the next one announces both). Batches voided before this schema are announced by the first
-- batch sealed under it.
ALTER TABLE spool_batches ADD COLUMN announced_in TEXT;
