-- Certificates of other nodes this node has learned (from a link's TLS
-- handshake, or from a neighbour it asked), checked against the CA when
-- learned. Kept by serial: a node that renewed its certificate has
-- several, and envelopes it signed under an old one still verify.
CREATE TABLE certificates (
    node    TEXT NOT NULL,
    serial  BYTEA NOT NULL,
    learned BIGINT NOT NULL, -- ms since the Unix epoch
    der     BYTEA NOT NULL,
    PRIMARY KEY (node, serial)
);
