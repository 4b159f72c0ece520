-- rebound schema, version 8: events by the time they occurred, with their kind, so that the
-- admin UI's chart (events per day and kind over the last 14 days) reads a range of this
-- index and no table rows.
CREATE INDEX events_occurred ON events (occurred_at, kind);
