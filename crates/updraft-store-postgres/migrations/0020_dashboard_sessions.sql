-- The dashboard (issue #17): sign-in sessions. The browser holds a random
-- token; only its SHA-256 is kept, with the hash of the API key the session
-- was opened with, so every page re-checks that key (a deleted or expired
-- key ends its sessions). A session ends after idle_until unless used, and
-- at expires_at whatever happens; retention deletes ended ones.
CREATE TABLE dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    idle_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_idle ON dashboard_sessions (idle_until);
