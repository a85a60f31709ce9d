-- The Mastodon client API (issue 14): OAuth 2 apps, codes and tokens, and what the API
-- needs beyond the tables the web UI already has. Secrets are stored as SHA-256 only, so a
-- leaked database hands out no live token.

-- An app registered through POST /api/v1/apps.
CREATE TABLE oauth_apps (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    website TEXT,
    redirect_uris TEXT NOT NULL,             -- one per line, as Mastodon takes them
    scopes TEXT NOT NULL,                    -- space-separated
    created_at REAL NOT NULL
);

-- Authorization codes: single use (used_at), short-lived, bound to app, user, redirect and PKCE.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES oauth_apps(id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);

-- Access tokens (actor_id NULL for client_credentials ones) with their refresh token.
CREATE TABLE oauth_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    refresh_hash TEXT UNIQUE,
    app_id INTEGER NOT NULL REFERENCES oauth_apps(id) ON DELETE CASCADE,
    actor_id INTEGER REFERENCES accounts(actor_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,                         -- NULL: until revoked, as Mastodon's tokens
    revoked_at REAL,
    code_hash TEXT                           -- the code it was issued for (revoked if reused)
);
CREATE INDEX oauth_tokens_actor ON oauth_tokens(actor_id, revoked_at);

-- Which app posted a status (the Status entity's "application").
CREATE TABLE api_status_apps (
    note_id INTEGER PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    app_id INTEGER NOT NULL REFERENCES oauth_apps(id) ON DELETE CASCADE
);

-- Idempotency-Key of POST /api/v1/statuses: a retried request gets the same status back.
CREATE TABLE api_idempotency (
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    status_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (actor_id, key)
);

-- Notifications are derived from the tables that record each event; dismissing one, or
-- clearing them all, is the only state of their own they have.
CREATE TABLE api_notification_dismissals (
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL,
    PRIMARY KEY (actor_id, notification_id)
);
CREATE TABLE api_notification_clears (
    actor_id INTEGER PRIMARY KEY REFERENCES accounts(actor_id) ON DELETE CASCADE,
    cleared_before REAL NOT NULL
);
