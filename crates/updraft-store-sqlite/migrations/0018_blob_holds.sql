-- Scale-out (issue #16): removals of stored files ordered across nodes.
-- One row per stored file that may have to go: the uploads storing it now
-- (a count; until_ms, after which a crashed upload no longer counts) and
-- when it was last freed (a deletion, a forgotten manifest file, an upload
-- that ended). The sweeper removes a file with its row locked, once no
-- upload holds it, it was freed more than the grace ago and nothing uses it.
CREATE TABLE blob_holds (
    sha256 TEXT PRIMARY KEY,
    uploads INTEGER NOT NULL DEFAULT 0,
    until_ms BIGINT NOT NULL DEFAULT 0,
    freed_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX blob_holds_freed ON blob_holds (freed_at);
-- A background job that must run on one node at a time takes its lease.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
-- Files of bundles deleted before holds existed (kept in a bucket, where
-- removals were off) are freed now, so the sweeper removes the unused ones
-- after the grace.
INSERT INTO blob_holds (sha256, freed_at)
    SELECT DISTINCT blob_sha256, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM bundles
    WHERE deleted = TRUE AND blob_sha256 IS NOT NULL
ON CONFLICT (sha256) DO NOTHING;
