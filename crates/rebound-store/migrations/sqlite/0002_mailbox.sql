-- rebound schema, version 2: bounce mailboxes. One row per message fetched from a mailbox,
-- written in the same transaction as its inbox row, so that a message is stored once
-- however often it is fetched (a scan killed before deleting it, `after=keep`).
-- scope: `source:ID` for a mailbox source, `url:HASH` for a one-off `--url` scan.
CREATE TABLE mailbox_messages (
    scope      TEXT    NOT NULL,
    uid        TEXT    NOT NULL,
    inbox_id   BIGINT,
    is_bounce  INTEGER NOT NULL,
    fetched_at BIGINT  NOT NULL,
    PRIMARY KEY (scope, uid)
);

-- A bounce email's returned Message-ID is matched to the send it belongs to.
CREATE INDEX events_message_id ON events (message_id) WHERE message_id IS NOT NULL;
