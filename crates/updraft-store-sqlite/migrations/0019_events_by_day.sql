-- Events are partitioned by day on PostgreSQL (issue #16); on SQLite they
-- stay one table, pruned in batches. Kept so both databases number their
-- migrations alike.
SELECT 1;
