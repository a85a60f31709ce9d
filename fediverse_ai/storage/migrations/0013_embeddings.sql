-- For-you feed: one sentence embedding per eligible post, gone with the post.
-- vector is little-endian float16, L2-normalised, `dim` values; `model` names the model and
-- its version, so that a change of model recomputes rather than mixes incomparable vectors.
-- `published` repeats the note's time so that the feed's window is read from this table alone.
CREATE TABLE note_embeddings (
    note_id INTEGER PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    published REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX note_embeddings_published ON note_embeddings(model, published DESC);

-- Per local account: whether the AI may use their posts (For-you embeddings; unset means yes,
-- and only while the account is `indexable`), and whether they see the For-you feed (opt-in).
CREATE TABLE ai_preferences (
    actor_id INTEGER PRIMARY KEY REFERENCES actors(id) ON DELETE CASCADE,
    ai_may_use_posts INTEGER NOT NULL DEFAULT 1,
    foryou INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
