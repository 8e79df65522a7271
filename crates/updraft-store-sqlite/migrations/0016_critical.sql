-- Critical deploys (issue #15): the channel's current deploy is critical
-- (devices are told to apply it at once), and each deploy records whether
-- it was.
ALTER TABLE channels ADD COLUMN critical BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deploys ADD COLUMN critical BOOLEAN NOT NULL DEFAULT FALSE;
