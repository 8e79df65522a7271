-- The dashboard's update checks per hour (issue #17): each node counts the
-- /updates requests it answers per app and hour in memory and adds them
-- here with each telemetry flush. Pruned with the events
-- (event_retention_days); deleted with the app.
CREATE TABLE check_counts (
    app_id TEXT NOT NULL REFERENCES apps (app_id),
    hour BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (app_id, hour)
);
CREATE INDEX check_counts_hour ON check_counts (hour);
