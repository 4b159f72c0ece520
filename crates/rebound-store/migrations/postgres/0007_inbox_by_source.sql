-- rebound schema, version 7: each source's accepted requests by time (the dashboard's
-- last request and count per source); rejected samples ('logged') are counted elsewhere.
CREATE INDEX inbox_source_received ON inbox (source_id, received_at) WHERE state <> 'logged';
