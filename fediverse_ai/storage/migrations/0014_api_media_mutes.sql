-- Media uploaded through the client API (POST /api/v2/media) before a status uses them.
-- The file and its row in `media` exist from the upload on, with note_id NULL until a status
-- names it in media_ids; this table says whose upload it is and keeps the focal point,
-- which the media table (shared with remote attachments) has no column for.
CREATE TABLE api_media (
    media_id INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    focus_x REAL NOT NULL DEFAULT 0,
    focus_y REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX api_media_actor ON api_media(actor_id, created_at);

-- Accounts a local user muted through the client API: hidden from their home timeline, public
-- timelines and streams, and (with notifications = 1, Mastodon's default) their
-- notifications; nothing is sent to the muted account. expires_at NULL: until unmuted.
CREATE TABLE mutes (
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    notifications INTEGER NOT NULL DEFAULT 1,
    expires_at REAL,
    created_at REAL NOT NULL,
    PRIMARY KEY (actor_id, target_id)
);
