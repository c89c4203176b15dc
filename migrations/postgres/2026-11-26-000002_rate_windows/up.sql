-- Submissions per client per minute, shared by every instance on this database. Unlogged: a
-- crash may forget the current minute's counts (clients get a fresh budget), and nothing here is
-- worth a WAL write or a replica. `bucket` is a keyed hash of the client's address, never the
-- address itself; rows older than the previous minute are deleted.
CREATE UNLOGGED TABLE rate_windows (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
