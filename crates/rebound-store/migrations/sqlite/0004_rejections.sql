-- rebound schema, version 4: rejected requests counted, not stored one by one. A flood of
-- forged requests adds to a count per minute, source, status and error; only a bounded
-- sample of them is kept as request-log rows (inbox state 'logged').
-- source_id 0 and provider '' stand for "none" (NULLs would never be equal in the key).
CREATE TABLE rejection_counts (
    minute      BIGINT  NOT NULL,
    source_id   BIGINT  NOT NULL,
    provider    TEXT    NOT NULL,
    http_status INTEGER NOT NULL,
    error       TEXT    NOT NULL,
    count       BIGINT  NOT NULL,
    PRIMARY KEY (minute, source_id, provider, http_status, error)
);
