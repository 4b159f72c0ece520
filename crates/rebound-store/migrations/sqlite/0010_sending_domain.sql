-- rebound schema, version 10: the domain each event's message was sent from, where the
-- provider's payload (or the returned message of a bounce) names it; NULL otherwise and for
-- events recorded before this version. The time index gains it as a last column, so that
-- the deliverability rates per sending domain read a range of the index and no table rows,
-- as the rates per source and the chart already do (one index instead of two to write).
ALTER TABLE events ADD COLUMN sending_domain TEXT;
DROP INDEX events_occurred;
CREATE INDEX events_occurred ON events (occurred_at, kind, source_id, sending_domain);
