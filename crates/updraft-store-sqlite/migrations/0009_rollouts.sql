-- Staged rollouts of a candidate bundle on a channel (issue #12).
-- At most one active (running or paused) rollout per channel.
CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    candidate_id BIGINT NOT NULL REFERENCES bundles (id),
    plan TEXT NOT NULL,
    state TEXT NOT NULL,
    step BIGINT NOT NULL,
    step_started_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    reason TEXT,
    revision BIGINT NOT NULL,
    checked_at BIGINT
);
CREATE UNIQUE INDEX rollouts_one_active ON rollouts (channel_id) WHERE state IN ('running', 'paused');
CREATE INDEX rollouts_channel ON rollouts (channel_id, id);
CREATE INDEX rollouts_app ON rollouts (app_id, id);

-- Each gate evaluation of a rollout (`body`: the gates and both arms, JSON).
CREATE TABLE rollout_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
    step BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX rollout_checks_rollout ON rollout_checks (rollout_id, id);

-- One row per app, bundle and device: the first time of each release signal,
-- the first launch time reported, and the rollout arm the server put the
-- device in. `rollout_id` has no foreign key: rollouts go with their
-- channel, a bundle's release rows stay (and go with the app). Clustered by
-- its key (WITHOUT ROWID): the counts of a bundle's window read its rows in
-- one stretch.
CREATE TABLE release_devices (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    bundle_id BIGINT NOT NULL REFERENCES bundles (id),
    device_id TEXT NOT NULL,
    rollout_id BIGINT,
    arm TEXT,
    first_at BIGINT NOT NULL,
    offered_at BIGINT,
    download_at BIGINT,
    downloaded_at BIGINT,
    installed_at BIGINT,
    ready_at BIGINT,
    rolled_back_at BIGINT,
    failed_at BIGINT,
    crashed_at BIGINT,
    errored_at BIGINT,
    launch_ms BIGINT,
    -- Which of the above are set, a bit each in their order (offered 1,
    -- download 2, ... errored 256, launch_ms 512): arm health counts these.
    -- Kept by the writer (bits are only ever added), as is the next column:
    -- an index on a generated column is never read alone on SQLite.
    flags BIGINT NOT NULL DEFAULT 0,
    -- The bits of `flags` seen while the row was attributed to its rollout
    -- and arm (reset when it joins another): a rollout's gates count these,
    -- so what a device did before the rollout never counts for an arm.
    arm_flags BIGINT NOT NULL DEFAULT 0,
    -- ready_at - download_at, when both are known.
    download_to_ready_ms BIGINT,
    PRIMARY KEY (app_id, bundle_id, device_id)
) WITHOUT ROWID;
-- Each percentile and count below is read in order from one index alone
-- (no sort, no row fetched): the indexes hold what their query needs. Each
-- entry is written when its value first appears (times are kept, not moved
-- forward), so they cost the writer little.
-- Arm health: a rollout's devices by arm and flags ...
CREATE INDEX release_devices_arm ON release_devices (rollout_id, arm, arm_flags, flags) WHERE rollout_id IS NOT NULL;
-- ... and an arm's launch-time percentile.
CREATE INDEX release_devices_arm_launch ON release_devices (rollout_id, arm, launch_ms)
    WHERE rollout_id IS NOT NULL AND launch_ms IS NOT NULL;
-- Release metrics of a bundle over a window of first contact: percentiles of
-- launch time and of download-to-ready time, time to a share installed and
-- adoption (installs and the rollbacks after them).
CREATE INDEX release_devices_launch ON release_devices (app_id, bundle_id, launch_ms, first_at)
    WHERE launch_ms IS NOT NULL;
CREATE INDEX release_devices_download_to_ready ON release_devices (app_id, bundle_id, download_to_ready_ms, first_at)
    WHERE download_to_ready_ms IS NOT NULL;
CREATE INDEX release_devices_installed ON release_devices (app_id, bundle_id, installed_at, first_at, rolled_back_at)
    WHERE installed_at IS NOT NULL;
