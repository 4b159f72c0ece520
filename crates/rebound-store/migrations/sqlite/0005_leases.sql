-- rebound schema, version 5: inbox leases in the database (issue #24), not in one process's
-- memory. A worker claiming a row sets `locked_until` (when the lease expires) and
-- `locked_by` (the store instance that holds it); applying the row clears both. A row whose
-- lease expired is taken again by any process on the same database, so one that died holding
-- rows delays them by the lease length and loses nothing. Nothing is released at start.
ALTER TABLE inbox ADD COLUMN locked_until BIGINT;
ALTER TABLE inbox ADD COLUMN locked_by TEXT;
