-- rebound schema, version 9: events by the time they occurred, with their kind, so that the
-- admin UI's chart (events per day and kind over the last 14 days) reads a range of this
-- index and no table rows; so do the deliverability rates (delivered, bounced and
-- complained per source over 24 hours and 7 days).
CREATE INDEX events_occurred ON events (occurred_at, kind, source_id);
