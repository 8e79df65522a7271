-- Files of manifest (delta) bundles (issue #14), content-addressed by the
-- SHA-256 of the bytes served (the file, or its Brotli stream). A file belongs
-- to each app that uploaded it: an app can name, and learn of, only its own.
-- `touched_at` is the upload, or the last time an upload was told the app has
-- it; a cleanup leaves a file alone for a grace period after it.
CREATE TABLE app_files (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, sha256)
);
-- Which stored files a bundle's manifest names.
CREATE TABLE bundle_files (
    bundle_id BIGINT NOT NULL REFERENCES bundles (id),
    sha256 TEXT NOT NULL,
    PRIMARY KEY (bundle_id, sha256)
);
CREATE INDEX bundle_files_sha256 ON bundle_files (sha256);
CREATE INDEX app_files_sha256 ON app_files (sha256);
CREATE INDEX app_files_touched ON app_files (touched_at);
