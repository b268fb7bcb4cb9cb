-- Coordination rooms (综合协调室): one header row per room (replaced
-- whole as events apply) and the ordered log, one row per applied event.
-- data is bincode of liandong_dispatch::room::{Room, RoomEntry}.
CREATE TABLE rooms (
    id       BLOB PRIMARY KEY NOT NULL,
    home     TEXT NOT NULL,
    state    TEXT NOT NULL,
    severity TEXT NOT NULL,
    mode     TEXT NOT NULL,
    opened   INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    data     BLOB NOT NULL -- Room
);

CREATE TABLE room_log (
    room  BLOB NOT NULL,
    seq   INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    line  TEXT NOT NULL,
    data  BLOB NOT NULL, -- RoomEntry
    PRIMARY KEY (room, seq)
);
