-- Outbound webhooks (issue #15): subscriptions per app, and one delivery row
-- per event and subscription, queued in the transaction of the change it
-- comes from (so an event is queued exactly when its change commits).
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    url TEXT NOT NULL,
    -- ',kind,kind,' (matched with LIKE), or '*' for every event.
    events TEXT NOT NULL,
    description TEXT,
    -- The Standard Webhooks secret (whsec_...): the server signs with it, so
    -- it is kept, and shown only at creation and rotation.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failure_streak BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_app ON webhooks (app_id, id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: a change queued while its webhook is being deleted
    -- must not fail the change (the delete removes what it finds; the worker
    -- never claims a delivery without its webhook).
    webhook_id BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    change_id BIGINT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    -- A node sending it holds it until then (one attempt in flight).
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
-- Each webhook's queue in order: the head is its lowest pending id.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
