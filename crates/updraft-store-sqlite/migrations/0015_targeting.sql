-- Targeting (issue #15): a channel's rule (JSON, absent for every device),
-- and the app's named cohorts that rules name.
ALTER TABLE channels ADD COLUMN target TEXT;

CREATE TABLE cohorts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    name TEXT NOT NULL,
    device_ids TEXT NOT NULL,
    custom_ids TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (app_id, name)
);

-- One public channel without a rule per platform; public channels with a
-- rule (geographic channels) share platforms.
DROP INDEX channels_one_public_ios;
DROP INDEX channels_one_public_android;
DROP INDEX channels_one_public_electron;
CREATE UNIQUE INDEX channels_one_public_ios ON channels (app_id) WHERE public AND ios AND target IS NULL;
CREATE UNIQUE INDEX channels_one_public_android ON channels (app_id) WHERE public AND android AND target IS NULL;
CREATE UNIQUE INDEX channels_one_public_electron ON channels (app_id) WHERE public AND electron AND target IS NULL;
