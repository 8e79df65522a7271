-- Update offers counted per app, bundle and day (replaces one `get` event per offer).
CREATE TABLE offers (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    version TEXT NOT NULL,
    day BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (app_id, version, day)
);
