-- Schema 8. What was delivered, per day, data type and form, for the heartbeat's coverage of the
-- 17 document kinds (docs/coverage-kinds.md): the records themselves leave the spool when their
-- batch is delivered, so mark_delivered adds their counts here in the same transaction. form is
-- 'pdf_jpeg' when one of the record's parts is named *.pdf, *.jpg or *.jpeg (any case), else
-- 'structured'. Only upserts count. mark_delivered prunes days older than 40 (the heartbeat counts 30).
CREATE TABLE spool_delivered_kinds (
  day     INTEGER NOT NULL,   -- unix days (delivered_at / 86400), UTC
  kind    TEXT NOT NULL,      -- the record's kind (data type)
  form    TEXT NOT NULL CHECK (form IN ('structured', 'pdf_jpeg')),
  records INTEGER NOT NULL,
  PRIMARY KEY (day, kind, form)
) WITHOUT ROWID;
