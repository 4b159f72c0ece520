-- rebound schema: a subscription's source filter (NULL: every source; else a JSON array of
-- source ids whose events, and the status changes they cause, it takes).
ALTER TABLE subscriptions ADD COLUMN sources TEXT;
