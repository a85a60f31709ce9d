-- Moderation assist (issue 16 item 2): what the shipped moderation models make of a post, for
-- the admin's eyes only. One row per post and kind: 'text' (alt-profanity-check on the title,
-- content warning and text) or 'image' (open_nsfw, the highest score among the post's
-- pictures). Every score is kept, not only those over the threshold, so that a changed
-- `ai.moderation.flag_*_threshold` applies at once; each row goes with its post.
-- dismissed_at: the admin looked and dismissed the flag; a new score that is higher (an edit)
-- brings it back.
CREATE TABLE moderation_flags (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'image')),
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at REAL NOT NULL,
    dismissed_at REAL,
    UNIQUE (note_id, kind)
);
CREATE INDEX moderation_flags_open ON moderation_flags(score DESC) WHERE dismissed_at IS NULL;

-- A report's machine-written summary of the posts it names and the action it suggests.
-- source: 'model' (the instance's text backend wrote `summary`; backend and model name it) or
-- 'scores' (the deterministic fallback). `facts` is always the counts and top scores.
CREATE TABLE report_summaries (
    report_id INTEGER PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
    summary TEXT NOT NULL,
    facts TEXT NOT NULL,
    suggested TEXT NOT NULL CHECK (suggested IN ('review', 'silence', 'suspend')),
    source TEXT NOT NULL CHECK (source IN ('model', 'scores')),
    backend TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
