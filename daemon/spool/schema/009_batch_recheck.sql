-- Schema 9. A batch holding a record of many patients (a claims file, daemon/core/content_filter.hpp)
-- was filtered patient by patient when it was sealed; the spool does not know who is inside it.
-- When a patient is newly added to the stop list, apply_stop_list sets recheck on every such batch
-- not yet delivered, in the same transaction: it then never leaves as it is. The pipeline voids it
-- (its records are filtered again against the new list) or, if the destination already has it
-- complete, counts it as delivered. Set in the spool, not only in memory, so that neither a kill
-- after the stop is recorded nor a destination that cannot be asked lets it go out unchecked.
ALTER TABLE spool_batches ADD COLUMN recheck INTEGER NOT NULL DEFAULT 0;
