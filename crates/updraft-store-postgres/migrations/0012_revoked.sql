-- A revoked bundle (issue #15) is never offered again and no channel, rollout
-- or pin may take it; it stays listed (and deletable) with when and why.
ALTER TABLE bundles ADD COLUMN revoked_at BIGINT;
ALTER TABLE bundles ADD COLUMN revoked_reason TEXT;
