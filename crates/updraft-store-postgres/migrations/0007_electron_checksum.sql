-- The checksum Capgo's Electron updater verifies for an encrypted bundle
-- (base64 of the AES-encrypted hex SHA-256 of the encrypted zip); NULL when unknown.
ALTER TABLE bundles ADD COLUMN electron_checksum TEXT;
-- The public key the app ships (PKCS#1 PEM): encrypted bundles are checked against it.
ALTER TABLE apps ADD COLUMN public_key TEXT;
