-- Per-file manifest (JSON array of {file_name, file_hash, download_url}) for delta updates.
ALTER TABLE bundles ADD COLUMN manifest TEXT NOT NULL DEFAULT '[]';
