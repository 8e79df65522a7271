-- Which overrides a device set for itself (plugins before 7.34 keep their channel on
-- the server) and which an admin set: a device may replace or remove only its own.
ALTER TABLE device_overrides ADD COLUMN self_set BOOLEAN NOT NULL DEFAULT FALSE;
-- Nodes poll the self-assigned choices changed in the last seconds.
CREATE INDEX device_overrides_self_set_at ON device_overrides (created_at) WHERE self_set;
-- ... and the rollback blocks recorded in the last seconds.
CREATE INDEX device_failures_failed_at ON device_failures (failed_at);
