-- No query used this index (the device search matches lower(custom_id), which it cannot serve),
-- and every device upsert sets custom_id, so each check rewrote an index page for nothing.
DROP INDEX devices_custom_id;
