-- The web UI: browser sessions, admin-editable settings and domain blocks, timeline indexes.

-- One row per logged-in browser. The cookie holds a random token; only its SHA-256 is stored,
-- so a leaked database does not hand out live sessions.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_actor ON sessions(actor_id);

-- Instance settings the admin changes from the browser; they override the config file's values.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);

-- Domains blocked from the admin page, on top of [federation] blocked_domains.
CREATE TABLE domain_blocks (
    domain TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);

CREATE INDEX notes_local_timeline ON notes(local, visibility, published DESC);
CREATE INDEX media_gallery ON media(ai_generated, note_id);
CREATE INDEX reactions_note ON reactions(note_id);
CREATE INDEX announces_note ON announces(note_id);
CREATE INDEX follows_follower ON follows(follower_id, state);
