-- What a remote actor's own server says it has: the `totalItems` of its followers, following and
-- outbox collections, read in the background when the actor is fetched or refreshed (Mastodon
-- shows these for remote accounts). NULL: unknown (not published, not a number, fetch failed);
-- the counts we know locally are shown instead.
CREATE TABLE actor_totals (
    actor_id INTEGER PRIMARY KEY REFERENCES actors(id) ON DELETE CASCADE,
    followers INTEGER,
    following INTEGER,
    statuses INTEGER,
    fetched_at REAL NOT NULL
);
