-- Quote posts (FEP-044f and the older quote properties).

-- A note that quotes another, ours or a remote one: at most one quote per note. ``state`` is
-- what the quoted author's server said: 'accepted' (a stamp verified), 'pending' (none yet),
-- 'rejected', 'revoked' (the stamp was withdrawn) or 'legacy' (a property without consent).
CREATE TABLE quotes (
    note_id INTEGER PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    quoted_uri TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fep044f', 'legacy')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected', 'revoked', 'legacy')),
    authorization_uri TEXT,
    request_uri TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX quotes_quoted ON quotes(quoted_uri);
CREATE INDEX quotes_authorization ON quotes(authorization_uri);
CREATE INDEX quotes_request ON quotes(request_uri);

-- Stamps (QuoteAuthorization) our users' posts gave: served at /quote-authorizations/<token>
-- until revoked, then answered 410.
CREATE TABLE quote_stamps (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    quoted_note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    quoting_uri TEXT NOT NULL,
    quoter_uri TEXT NOT NULL,
    revoked_at REAL,
    created_at REAL NOT NULL,
    UNIQUE (quoted_note_id, quoting_uri)
);

-- Who may quote one of our posts, when its author chose (else the default by visibility).
CREATE TABLE quote_policies (
    note_id INTEGER PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    policy TEXT NOT NULL CHECK (policy IN ('public', 'followers', 'nobody'))
);
