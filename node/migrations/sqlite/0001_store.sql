-- The durable store of one node (SQLite). Blobs are bincode (serde) of the
-- liandong-dispatch types; the other columns are what an operator or a
-- query filters on. Ids are the 16 big-endian bytes of an EnvelopeId,
-- times milliseconds since the Unix epoch.

-- One row per key: 'node' (whose store this is), 'schema' (migration
-- version), 'audit_head' ("<seq> <hex hash>" of the last audit entry).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Envelopes held here: the dedup window.
CREATE TABLE envelopes (
    id       BLOB PRIMARY KEY NOT NULL,
    kind     TEXT NOT NULL,
    origin   TEXT NOT NULL,
    mode     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    expires  INTEGER NOT NULL,
    catch_up BOOLEAN NOT NULL,
    data     BLOB NOT NULL -- StoredEnvelope
);
CREATE INDEX envelopes_expires ON envelopes (expires);

-- Copies owed to (or already taken by) each next hop. acked and gave_up
-- are authoritative over the same flags inside data.
CREATE TABLE outbox (
    peer     TEXT NOT NULL,
    id       BLOB NOT NULL,
    lane     TEXT NOT NULL,
    catch_up BOOLEAN NOT NULL,
    acked    BOOLEAN NOT NULL,
    gave_up  BOOLEAN NOT NULL,
    data     BLOB NOT NULL, -- OutboxEntry
    PRIMARY KEY (peer, id)
);
CREATE INDEX outbox_id ON outbox (id);
CREATE INDEX outbox_pending ON outbox (peer) WHERE NOT acked;

CREATE TABLE incidents (
    id       BLOB PRIMARY KEY NOT NULL,
    origin   TEXT NOT NULL,
    owner    TEXT NOT NULL,
    state    TEXT NOT NULL,
    severity TEXT NOT NULL,
    mode     TEXT NOT NULL,
    reported INTEGER NOT NULL,
    data     BLOB NOT NULL -- Incident
);
CREATE INDEX incidents_owner_state ON incidents (owner, state);

CREATE TABLE orders (
    id       BLOB PRIMARY KEY NOT NULL,
    issuer   TEXT NOT NULL,
    incident BLOB,
    mode     TEXT NOT NULL,
    issued   INTEGER NOT NULL,
    data     BLOB NOT NULL -- OrderRecord
);

CREATE TABLE targets (
    order_id BLOB NOT NULL,
    target   TEXT NOT NULL,
    state    TEXT NOT NULL,
    data     BLOB NOT NULL, -- TargetStatus
    PRIMARY KEY (order_id, target)
);

-- Append-only, hash-chained: hash = SHA-256(prev_hash || seq as 8
-- big-endian bytes || at as 8 big-endian bytes || what as UTF-8), the
-- first prev_hash 32 zero bytes. envelope is set on the rows the store
-- writes for a stored envelope, NULL on the core's own audit entries.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        INTEGER NOT NULL,
    what      TEXT NOT NULL,
    envelope  BLOB,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_core ON audit (seq) WHERE envelope IS NULL;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
