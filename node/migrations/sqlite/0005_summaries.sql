-- Summaries of figures (平安报表): each child's latest summary per period,
-- and this center's own as it last sent it. A row is replaced by a higher
-- version only. data is bincode of liandong_dispatch::figures::SummaryRecord.
CREATE TABLE summaries (
    center  TEXT NOT NULL,
    period  TEXT NOT NULL,    -- 2026-11 or 2026-11-05
    version INTEGER NOT NULL,
    late    BOOLEAN NOT NULL,
    at      INTEGER NOT NULL, -- ms: stored here (received or sent)
    data    BLOB NOT NULL,    -- SummaryRecord
    PRIMARY KEY (center, period)
);
