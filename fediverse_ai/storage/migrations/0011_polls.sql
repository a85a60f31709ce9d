-- Polls (AS2 Question, issue 13 item 6): one row per poll, its options in order, and the
-- votes of those whose votes we count (on our polls) or cast (ours on anyone's poll).

CREATE TABLE polls (
    note_id INTEGER PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    multiple INTEGER NOT NULL,               -- anyOf: several choices per voter
    end_time REAL,                           -- NULL: the author gave none
    closed_at REAL,                          -- set when closed (ours at end_time, theirs by Update)
    voters_count INTEGER,                    -- NULL when a remote poll does not say
    updated_at REAL NOT NULL
);

CREATE TABLE poll_options (
    note_id INTEGER NOT NULL REFERENCES polls(note_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    votes INTEGER NOT NULL DEFAULT 0,        -- ours counted from poll_votes, theirs as sent
    PRIMARY KEY (note_id, position)
);

-- One row per voter and choice: the unique key is what makes a repeated vote count once.
CREATE TABLE poll_votes (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES polls(note_id) ON DELETE CASCADE,
    voter_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    uri TEXT,                                -- the vote Note's id (theirs), NULL for ours until sent
    created_at REAL NOT NULL,
    UNIQUE (note_id, voter_id, position)
);
CREATE INDEX poll_votes_voter ON poll_votes (voter_id, note_id);
