-- Times the machine compares (fetched_at, run_after, ...) are REAL Unix seconds;
-- AS2 timestamps are kept as received in *_text columns where we must echo them.

CREATE TABLE actors (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    local INTEGER NOT NULL DEFAULT 0,
    username TEXT NOT NULL,
    domain TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'Person',
    display_name TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    url TEXT,
    inbox TEXT,
    shared_inbox TEXT,
    outbox TEXT,
    followers_url TEXT,
    following_url TEXT,
    featured_url TEXT,
    icon_url TEXT,
    image_url TEXT,
    public_key_id TEXT,
    public_key_pem TEXT,
    manually_approves INTEGER NOT NULL DEFAULT 0,
    discoverable INTEGER NOT NULL DEFAULT 1,
    indexable INTEGER NOT NULL DEFAULT 1,
    fields_json TEXT NOT NULL DEFAULT '[]',
    raw_json TEXT,
    published REAL NOT NULL,
    fetched_at REAL,
    updated_at REAL
);
CREATE UNIQUE INDEX actors_local_username ON actors(username) WHERE local = 1;
CREATE INDEX actors_acct ON actors(username, domain);
CREATE INDEX actors_key_id ON actors(public_key_id);

-- Local actors only: what the server needs to act as them.
CREATE TABLE accounts (
    actor_id INTEGER PRIMARY KEY REFERENCES actors(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'ai', 'instance')),
    key_file TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    email TEXT,
    created_at REAL NOT NULL
);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    local INTEGER NOT NULL DEFAULT 0,
    url TEXT,
    content TEXT NOT NULL DEFAULT '',
    source TEXT,
    summary TEXT,
    sensitive INTEGER NOT NULL DEFAULT 0,
    language TEXT,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'followers', 'direct')),
    in_reply_to_uri TEXT,
    context_uri TEXT,
    to_json TEXT NOT NULL DEFAULT '[]',
    cc_json TEXT NOT NULL DEFAULT '[]',
    tags_json TEXT NOT NULL DEFAULT '[]',
    ai_generated INTEGER NOT NULL DEFAULT 0,
    published REAL NOT NULL,
    published_text TEXT NOT NULL,
    updated REAL,
    updated_text TEXT,
    raw_json TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX notes_actor ON notes(actor_id, published DESC);
CREATE INDEX notes_reply ON notes(in_reply_to_uri);
CREATE INDEX notes_timeline ON notes(visibility, published DESC);

-- Notes deleted by their author: remembered so that a late Create cannot resurrect them.
CREATE TABLE tombstones (
    uri TEXT PRIMARY KEY,
    actor_uri TEXT NOT NULL,
    deleted_at REAL NOT NULL
);

CREATE TABLE note_mentions (
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    actor_uri TEXT NOT NULL,
    PRIMARY KEY (note_id, actor_uri)
);
CREATE INDEX note_mentions_actor ON note_mentions(actor_uri);

CREATE TABLE note_hashtags (
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (note_id, name)
);
CREATE INDEX note_hashtags_name ON note_hashtags(name);

CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    note_id INTEGER REFERENCES notes(id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    local INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL DEFAULT 0,
    url TEXT NOT NULL,
    file_name TEXT,
    media_type TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    blurhash TEXT,
    description TEXT NOT NULL DEFAULT '',
    ai_generated INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX media_note ON media(note_id, position);

-- Every activity we received or sent, unique by id: the idempotency record.
CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    actor_uri TEXT NOT NULL,
    object_uri TEXT,
    local INTEGER NOT NULL DEFAULT 0,
    raw_json TEXT NOT NULL,
    received_at REAL NOT NULL,
    processed_at REAL,
    error TEXT
);
CREATE INDEX activities_object ON activities(object_uri);

CREATE TABLE follows (
    id INTEGER PRIMARY KEY,
    uri TEXT,
    follower_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    followee_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted')),
    created_at REAL NOT NULL,
    UNIQUE (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows(followee_id, state);

CREATE TABLE reactions (
    id INTEGER PRIMARY KEY,
    uri TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('like', 'emoji')),
    emoji TEXT NOT NULL DEFAULT '',
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    UNIQUE (actor_id, note_id, kind, emoji)
);
CREATE INDEX reactions_uri ON reactions(uri);

CREATE TABLE announces (
    id INTEGER PRIMARY KEY,
    uri TEXT,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    published REAL NOT NULL,
    UNIQUE (actor_id, note_id)
);
CREATE INDEX announces_uri ON announces(uri);

CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    uri TEXT,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    UNIQUE (actor_id, target_id)
);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    uri TEXT UNIQUE,
    reporter_uri TEXT NOT NULL,
    object_uris_json TEXT NOT NULL DEFAULT '[]',
    content TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    resolved_at REAL
);

-- Durable work: deliveries, inbox processing, fetches. dedupe_key makes enqueueing idempotent.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after REAL NOT NULL,
    locked_until REAL,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX jobs_ready ON jobs(state, run_after);

-- Per-domain delivery health: the circuit breaker.
CREATE TABLE domain_health (
    domain TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    open_until REAL,
    last_success REAL
);
