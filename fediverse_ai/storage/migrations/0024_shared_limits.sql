-- State that every web and worker process sharing this database must see alike (issue 15).
-- Client API requests per key (a token's hash, or a client address) in one fixed window
-- (client_api/rate_limits.py); the retention purge drops windows that have ended.
CREATE TABLE api_request_counts (
    key TEXT NOT NULL,
    window_start REAL NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX api_request_counts_window ON api_request_counts(window_start);

-- Leased slots of a limited pool (the AI generations running at once, bot/ai_slots.py): a row
-- is slot `slot` of `pool`, held by `holder` until `expires_at`. A holder renews its lease while
-- it works; a process killed with its slot held frees it when the lease runs out.
CREATE TABLE slot_leases (
    pool TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (pool, slot)
);
