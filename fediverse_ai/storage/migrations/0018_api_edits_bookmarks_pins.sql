-- The rest of the Mastodon client API (issue 14): edit history, bookmarks, pins, markers and
-- the read state of conversations.

-- The versions an edit replaced (GET /api/v1/statuses/:id/history), local and remote edits
-- alike: notes.replace_content copies the old version here before it writes the new one.
-- media_json is a snapshot of the attachments (an edit may drop or replace them).
CREATE TABLE note_revisions (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    summary TEXT,
    sensitive INTEGER NOT NULL DEFAULT 0,
    media_json TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,                -- when this version was made
    replaced_at REAL NOT NULL                -- the edit that replaced it
);
CREATE INDEX note_revisions_note ON note_revisions(note_id, id);

-- A user's bookmarks: private to them, nothing is sent.
CREATE TABLE bookmarks (
    id INTEGER PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    UNIQUE (actor_id, note_id)
);

-- Posts a user pinned to their profile (the actor's `featured` collection), at most 5.
CREATE TABLE pins (
    id INTEGER PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    note_id INTEGER NOT NULL UNIQUE REFERENCES notes(id) ON DELETE CASCADE,
    created_at REAL NOT NULL
);
CREATE INDEX pins_actor ON pins(actor_id, id);

-- Where a user stopped reading the home timeline and the notifications (GET/POST /api/v1/markers).
CREATE TABLE markers (
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    timeline TEXT NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (actor_id, timeline)
);

-- Conversations are the direct notes a user sees, grouped by thread (context_uri) and named by
-- the thread's first direct note; this is their per-user state: read up to which note id,
-- hidden (DELETE) up to which, so a newer message brings a hidden one back, as in Mastodon.
CREATE TABLE conversation_states (
    actor_id INTEGER NOT NULL REFERENCES accounts(actor_id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL,
    read_upto INTEGER NOT NULL DEFAULT 0,
    hidden_upto INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (actor_id, conversation_id)
);
