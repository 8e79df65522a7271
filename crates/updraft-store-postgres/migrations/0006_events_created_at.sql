-- Event retention deletes the oldest events in batches: find them by time.
CREATE INDEX events_created_at ON events (created_at);
