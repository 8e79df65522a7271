-- The change log: one row per write, appended in the write's own transaction.
-- AUTOINCREMENT: an id is never reused after pruning, so followers' cursors hold.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT,
    revision BIGINT,
    kind TEXT NOT NULL,
    device_id TEXT,
    payload TEXT NOT NULL,
    actor TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX changes_app_id ON changes (app_id, id);
CREATE INDEX changes_at_ms ON changes (at_ms);
