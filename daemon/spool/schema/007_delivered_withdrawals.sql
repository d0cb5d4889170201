-- Schema 7. The withdrawals a delivered batch carried (see schema 6 for its records), written in
-- the transaction that marks the batch delivered: `sennen-edgectl resend --sequence N` queues them
-- again, since a withdrawal lost with its batch would let a restore give the patient back.
CREATE TABLE spool_delivered_withdrawals (
  batch_seq    INTEGER NOT NULL REFERENCES spool_batches(seq),
  patient_key  TEXT NOT NULL,
  effective_at INTEGER NOT NULL
);
CREATE INDEX spool_delivered_withdrawals_batch ON spool_delivered_withdrawals(batch_seq);
