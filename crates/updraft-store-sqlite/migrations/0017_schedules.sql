-- Scheduled deploys (issue #15): a deploy, or a rollout started or
-- advanced, not before at_ms and only inside a window (JSON); run once
-- across nodes (a pending row is moved on in the transaction that acts).
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    bundle TEXT,
    plan TEXT,
    at_ms BIGINT,
    window_spec TEXT,
    note TEXT,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT,
    error TEXT,
    -- When a pass next looks at it: its time, or its window's next opening.
    due_at BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (state, due_at);
CREATE INDEX schedules_app ON schedules (app_id, id);
