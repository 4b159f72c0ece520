-- rebound schema: erased addresses (privacy requests). Only a keyed hash of the address
-- (HMAC-SHA256 with the installation's erasure key, hex) is kept, so that the address stays
-- suppressed without being stored.
CREATE TABLE erased (
    address_hash TEXT   PRIMARY KEY,
    erased_at    BIGINT NOT NULL
);
