-- rebound schema, version 6: named locks shared by every process on the database (Mailgun's
-- replayed tokens). A lock is free when its `until`
-- has passed; expired rows are removed a few at a time by later takers.
CREATE TABLE named_locks (
    name   TEXT   PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
CREATE INDEX named_locks_until ON named_locks (until);
