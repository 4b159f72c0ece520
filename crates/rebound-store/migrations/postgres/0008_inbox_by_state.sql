-- rebound schema, version 8: the inbox counted by state (the dashboard) from an index, not
-- by reading every row with its body.
CREATE INDEX inbox_state ON inbox (state);
