-- Submissions per client per minute (see the PostgreSQL migration; SQLite has no unlogged
-- tables, and one file serves one instance, so this mirrors the in-memory limit).
CREATE TABLE rate_windows (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
