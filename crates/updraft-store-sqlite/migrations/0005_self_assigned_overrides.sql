-- Which overrides a device set for itself (plugins before 7.34 keep their channel on
-- the server) and which an admin set: a device may replace or remove only its own.
ALTER TABLE device_overrides ADD COLUMN self_set BOOLEAN NOT NULL DEFAULT FALSE;
