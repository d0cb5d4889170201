-- Schema 4. Records by key, newest last: a batch that is voided drops the versions of its records
-- that a newer version of the same key has superseded, instead of queueing them again behind it
-- (the central side applies records in batch order: an old version sent after a newer one would
-- replace it there).
CREATE INDEX spool_records_key ON spool_records(source, record_key, id);
