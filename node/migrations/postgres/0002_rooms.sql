-- Coordination rooms (综合协调室): one header row per room (replaced
-- whole as events apply) and the ordered log, one row per applied event.
-- data is bincode of liandong_dispatch::room::{Room, RoomEntry}.
CREATE TABLE rooms (
    id       BYTEA PRIMARY KEY,
    home     TEXT NOT NULL,
    state    TEXT NOT NULL,
    severity TEXT NOT NULL,
    mode     TEXT NOT NULL,
    opened   BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    data     BYTEA NOT NULL -- Room
);

CREATE TABLE room_log (
    room  BYTEA NOT NULL,
    seq   BIGINT NOT NULL,
    at    BIGINT NOT NULL,
    line  TEXT NOT NULL,
    data  BYTEA NOT NULL, -- RoomEntry
    PRIMARY KEY (room, seq)
);
