CREATE TABLE apps (
    app_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    expose_metadata BOOLEAN NOT NULL DEFAULT FALSE,
    allow_device_custom_id BOOLEAN NOT NULL DEFAULT TRUE,
    revision BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE bundles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    version TEXT NOT NULL,
    checksum TEXT NOT NULL,
    session_key TEXT NOT NULL DEFAULT '',
    key_id TEXT,
    storage TEXT NOT NULL,
    blob_sha256 TEXT,
    size BIGINT,
    external_url TEXT,
    min_update_version TEXT,
    native_packages TEXT NOT NULL DEFAULT '[]',
    link TEXT,
    comment TEXT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (app_id, version)
);
CREATE INDEX bundles_blob ON bundles (blob_sha256);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    name TEXT NOT NULL,
    bundle_id BIGINT REFERENCES bundles (id),
    public BOOLEAN NOT NULL DEFAULT FALSE,
    ios BOOLEAN NOT NULL DEFAULT TRUE,
    android BOOLEAN NOT NULL DEFAULT TRUE,
    electron BOOLEAN NOT NULL DEFAULT TRUE,
    allow_device_self_set BOOLEAN NOT NULL DEFAULT FALSE,
    allow_emulator BOOLEAN NOT NULL DEFAULT TRUE,
    allow_device BOOLEAN NOT NULL DEFAULT TRUE,
    allow_dev BOOLEAN NOT NULL DEFAULT TRUE,
    allow_prod BOOLEAN NOT NULL DEFAULT TRUE,
    disable_auto_update TEXT NOT NULL DEFAULT 'major',
    disable_auto_update_under_native BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (app_id, name)
);
CREATE UNIQUE INDEX channels_one_public_ios ON channels (app_id) WHERE public AND ios;
CREATE UNIQUE INDEX channels_one_public_android ON channels (app_id) WHERE public AND android;
CREATE UNIQUE INDEX channels_one_public_electron ON channels (app_id) WHERE public AND electron;

CREATE TABLE deploys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    bundle_id BIGINT REFERENCES bundles (id),
    deployed_at BIGINT NOT NULL
);
CREATE INDEX deploys_channel ON deploys (channel_id, id);

CREATE TABLE devices (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    device_id TEXT NOT NULL,
    custom_id TEXT,
    platform TEXT,
    plugin_version TEXT,
    version_name TEXT,
    version_build TEXT,
    version_code TEXT,
    version_os TEXT,
    is_prod BOOLEAN,
    is_emulator BOOLEAN,
    default_channel TEXT,
    key_id TEXT,
    last_seen BIGINT,
    PRIMARY KEY (app_id, device_id)
);
CREATE INDEX devices_custom_id ON devices (app_id, custom_id);

CREATE TABLE device_overrides (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    device_id TEXT NOT NULL,
    channel_id BIGINT REFERENCES channels (id),
    bundle_id BIGINT REFERENCES bundles (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, device_id),
    CHECK ((channel_id IS NULL) <> (bundle_id IS NULL))
);

CREATE TABLE device_failures (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    device_id TEXT NOT NULL,
    bundle_id BIGINT NOT NULL REFERENCES bundles (id),
    failed_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, device_id, bundle_id)
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    device_id TEXT NOT NULL,
    action TEXT NOT NULL,
    version_name TEXT NOT NULL,
    old_version_name TEXT,
    metadata TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_app ON events (app_id, id);
CREATE INDEX events_device ON events (app_id, device_id, id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    mode TEXT NOT NULL,
    apps TEXT NOT NULL DEFAULT '[]',
    key_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
