-- Schema 6. What a delivered batch held, without its content: a batch lost at the receiver is
-- reported by sennen-restore as a gap with its sequence number, and only the site can still say
-- which records that number carried (their content leaves the spool on delivery). One row per
-- record, written in the transaction that marks the batch delivered; read by
-- `sennen-edgectl batch show --sequence N`. Batches delivered before this schema have no rows.
CREATE TABLE spool_delivered_records (
  batch_seq   INTEGER NOT NULL REFERENCES spool_batches(seq),
  record_id   INTEGER NOT NULL,              -- the record's spool id (its order in the batch)
  source      TEXT NOT NULL,
  record_key  TEXT NOT NULL,
  version     TEXT NOT NULL,
  patient_key TEXT NOT NULL,
  kind        TEXT NOT NULL,
  path        TEXT NOT NULL,
  event       TEXT NOT NULL,
  size        INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  PRIMARY KEY (batch_seq, record_id)
) WITHOUT ROWID;
