-- Schema 3. A part larger than the spool's chunk size keeps its content in spool_chunks, one row
-- per chunk in order, and spool_parts.content stays NULL: no single row or blob holds a whole large
-- record (SQLite refuses values over about 1 GB, and writes or rewrites a row as a whole). Parts up
-- to one chunk stay in spool_parts.content as before, and so do parts spooled under schema 1, of
-- any size: readers take the chunks when there are any, else spool_parts.content.
CREATE TABLE spool_chunks (
  chunk_id INTEGER PRIMARY KEY,   -- the rowid that incremental blob reads open
  part_id  INTEGER NOT NULL REFERENCES spool_parts(part_id) ON DELETE CASCADE,
  seq      INTEGER NOT NULL,      -- 0, 1, ...: the chunk's place in the part
  content  BLOB NOT NULL,
  UNIQUE (part_id, seq)
);
