-- Byte-level patches between two stored manifest files of an app (issue
-- #14), computed once per pair. `patch_sha256` names the app file holding
-- the patch (zstd, the source file's plain content as reference), NULL when
-- a patch would not be smaller than the target file as stored. A patch file
-- is kept while a live bundle of its app names its target file.
CREATE TABLE file_patches (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    from_sha256 TEXT NOT NULL,
    to_sha256 TEXT NOT NULL,
    patch_sha256 TEXT,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, from_sha256, to_sha256)
);
CREATE INDEX file_patches_to ON file_patches (app_id, to_sha256);
CREATE INDEX file_patches_patch ON file_patches (app_id, patch_sha256);
