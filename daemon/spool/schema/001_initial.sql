-- Schema 1. Every table is named after the module that owns it.
-- Records: one row per record version the pipeline took in; content lives in spool_parts.
CREATE TABLE spool_records (
  id           INTEGER PRIMARY KEY,          -- ingest order; batches keep it
  source       TEXT NOT NULL,
  record_key   TEXT NOT NULL,
  version      TEXT NOT NULL,
  patient_id   TEXT NOT NULL,                -- as the source wrote it
  patient_key  TEXT NOT NULL,                -- canonical form used by the gate
  kind         TEXT NOT NULL,
  path         TEXT NOT NULL,
  event        TEXT NOT NULL CHECK (event IN ('upsert', 'delete')),
  size         INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  attributes   TEXT NOT NULL DEFAULT '{}',   -- JSON object, extra manifest fields
  state        TEXT NOT NULL CHECK (state IN ('held', 'ready', 'batched')),
  hold_reason  TEXT CHECK (hold_reason IN ('stopped', 'not_notified')),
  batch_id     TEXT,
  ingested_at  INTEGER NOT NULL              -- unix seconds
);
-- A version enters the spool once; a replayed poll cannot add it twice.
CREATE UNIQUE INDEX spool_records_version ON spool_records(source, version, event);
CREATE INDEX spool_records_ready ON spool_records(state, id);
CREATE INDEX spool_records_patient ON spool_records(patient_key, state);
CREATE INDEX spool_records_batch ON spool_records(batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE spool_parts (
  part_id    INTEGER PRIMARY KEY,
  record_id  INTEGER NOT NULL REFERENCES spool_records(id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  name       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  content    BLOB,                           -- NULL while the record is held
  UNIQUE (record_id, seq)
);

CREATE TABLE spool_batches (
  seq              INTEGER PRIMARY KEY,
  batch_id         TEXT NOT NULL UNIQUE,
  state            TEXT NOT NULL CHECK (state IN ('sealing', 'sealed', 'delivered', 'void')),
  created_at       INTEGER NOT NULL,
  record_count     INTEGER NOT NULL,
  withdrawal_count INTEGER NOT NULL,
  raw_bytes        INTEGER NOT NULL,
  file_size        INTEGER,
  file_sha256      TEXT,
  stop_list_sha256 TEXT,
  delivered_at     INTEGER,
  void_reason      TEXT
);

-- The stop list as last applied, and withdrawals the central side must be told about.
CREATE TABLE gate_stops (
  patient_key TEXT PRIMARY KEY,
  since       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE gate_withdrawals (
  id           INTEGER PRIMARY KEY,
  patient_key  TEXT NOT NULL,
  effective_at INTEGER NOT NULL,
  batch_id     TEXT
);
-- Visits seen in the data (evidence the patient was notified), tied to the record that showed them.
CREATE TABLE gate_visits (
  source      TEXT NOT NULL,
  record_key  TEXT NOT NULL,
  patient_key TEXT NOT NULL,
  visit_day   INTEGER NOT NULL,              -- days since 1970-01-01
  PRIMARY KEY (source, record_key)
) WITHOUT ROWID;
CREATE INDEX gate_visits_patient ON gate_visits(patient_key, visit_day);

-- Per-source polling state (see daemon/core/source.hpp).
CREATE TABLE dirpoll_dirs (
  source      TEXT NOT NULL,
  path        TEXT NOT NULL,
  parent      TEXT NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  ctime_ns    INTEGER NOT NULL,
  settled     INTEGER NOT NULL,
  has_subdirs INTEGER NOT NULL,
  listed_at   INTEGER NOT NULL,
  PRIMARY KEY (source, path)
) WITHOUT ROWID;
CREATE INDEX dirpoll_dirs_parent ON dirpoll_dirs(source, parent);
CREATE TABLE dirpoll_units (
  source   TEXT NOT NULL,
  dir      TEXT NOT NULL,
  name     TEXT NOT NULL,
  size     INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  status   TEXT NOT NULL,
  PRIMARY KEY (source, dir, name)
) WITHOUT ROWID;

CREATE TABLE quarantine (
  id         INTEGER PRIMARY KEY,
  source     TEXT NOT NULL,
  path       TEXT NOT NULL,
  reason     TEXT NOT NULL,
  size       INTEGER NOT NULL,
  copy_path  TEXT,
  at         INTEGER NOT NULL,
  UNIQUE (source, path)
);

-- Cumulative counters (withheld, purged, ...) for the heartbeat.
CREATE TABLE spool_counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
