-- Inbound deploy hooks (issue #15): a random token in the URL, a signing
-- secret (kept: the server checks HMACs with it), one app, one action.
CREATE TABLE hooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    action TEXT NOT NULL,
    channel TEXT NOT NULL,
    version_pointer TEXT,
    plan TEXT,
    description TEXT,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX hooks_app ON hooks (app_id, id);

-- The delivery ids of accepted calls: each is accepted once.
CREATE TABLE hook_calls (
    hook_id BIGINT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (hook_id, delivery_id)
);
CREATE INDEX hook_calls_received ON hook_calls (received_at);
