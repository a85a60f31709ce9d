-- People's data: deleted accounts and their archives.
-- accounts.deleted_at: set when the owner deleted the account. From then on it cannot sign in,
-- its actor answers 410 Gone and its posts are gone; the rows, the key (which signs the
-- actor's Delete on its retries) and the actor itself stay until the purge job removes them,
-- `accounts.deletion_grace_days` later.
ALTER TABLE accounts ADD COLUMN deleted_at REAL;

-- Archives of an account's data (/settings/export), built by a job; `token` names the file to
-- download, and the row goes with the account.
CREATE TABLE account_exports (
    id INTEGER PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    size INTEGER,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX account_exports_actor ON account_exports(actor_id, created_at DESC);
