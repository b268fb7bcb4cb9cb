-- Webhook deliveries (the gateway's events out to the systems that
-- subscribed): one row per event and subscription, written in the same
-- transaction as the records of the turn that produced the event, then
-- updated by the delivery worker. `body` is the JSON sent, the same bytes
-- on every attempt. A second row for the same (subscription, event) is
-- ignored: replaying a record never delivers its event twice.
CREATE TABLE webhook_deliveries (
    subscription TEXT NOT NULL,
    event        TEXT NOT NULL,    -- the event id, 32 hex digits
    kind         TEXT NOT NULL,    -- incident, order, stage, supervision
    created      BIGINT NOT NULL,  -- ms since the Unix epoch
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,    -- pending, delivered, dead
    attempts     BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,  -- ms: the next attempt, while pending
    last_error   TEXT,
    finished     BIGINT,           -- ms: delivered or dead-lettered at
    PRIMARY KEY (subscription, event)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
