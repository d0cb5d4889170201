-- Schema 2. The stop list can only be loosened on purpose: an ID that disappears from the staff's
-- file stays stopped (missing_since says since when it is missing) until an operator confirms its
-- removal with `sennen-edgectl optout release`, which moves it to gate_releases (the audit trail).
ALTER TABLE gate_stops ADD COLUMN missing_since INTEGER;  -- unix seconds; NULL while the ID is in the file
CREATE TABLE gate_releases (
  id            INTEGER PRIMARY KEY,
  patient_key   TEXT NOT NULL,
  stopped_since INTEGER NOT NULL,             -- when the ID was first applied
  missing_since INTEGER,                      -- when it was first seen missing from the file
  released_at   INTEGER NOT NULL,
  released_by   TEXT NOT NULL,                -- the operator's user name
  reason        TEXT NOT NULL
);
CREATE INDEX gate_releases_patient ON gate_releases(patient_key);
