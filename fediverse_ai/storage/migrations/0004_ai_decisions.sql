-- The AI actor's decision to answer is recorded with the charge of its rate limits (one
-- transaction), so that every attempt re-checks consent and limits until it is recorded, and
-- none charges twice. decided_at: when the answer was decided (NULL: not yet, or skipped).
-- thread_uri: the thread the answer counts against for max_replies_per_thread, found by walking
-- inReplyTo through stored notes (a remote note's own `context` would let it pick a fresh one).
ALTER TABLE ai_replies ADD COLUMN decided_at REAL;
ALTER TABLE ai_replies ADD COLUMN thread_uri TEXT;
UPDATE ai_replies SET decided_at = updated_at
    WHERE state IN ('done', 'failed') OR reply_uri IS NOT NULL;
CREATE INDEX ai_replies_thread ON ai_replies(thread_uri) WHERE thread_uri IS NOT NULL;

-- When a bucket is full again: a full bucket is the same as no row, so rows past it are
-- deleted (the table holds only buckets charged within their refill time). Old rows: at most
-- an hour, the longest refill of any bucket we keep.
ALTER TABLE rate_buckets ADD COLUMN full_at REAL NOT NULL DEFAULT 0;
UPDATE rate_buckets SET full_at = updated_at + 3600;
CREATE INDEX rate_buckets_full ON rate_buckets(full_at);

-- When this server first stored the actor: the AI's new-account rule dates accounts by it,
-- never by the `published` the actor claims. Actors stored before it are dated by the earliest
-- trace we have of them (their first stored note, or their last fetch), which is never earlier
-- than the truth, so they count as new rather than old.
ALTER TABLE actors ADD COLUMN first_seen REAL;
UPDATE actors SET first_seen = MIN(
    COALESCE((SELECT MIN(created_at) FROM notes WHERE notes.actor_id = actors.id), 1e300),
    COALESCE(fetched_at, 1e300),
    COALESCE(updated_at, 1e300),
    CAST(strftime('%s', 'now') AS REAL)
);
