-- One row per mention of the AI actor: the idempotency record of its answer.
-- base_status_id is reserved before generating, so a retried job publishes under the same ids.
CREATE TABLE ai_replies (
    mention_uri TEXT PRIMARY KEY,
    author_uri TEXT NOT NULL,
    base_status_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped', 'failed')),
    reason TEXT,
    reply_uri TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Persisted token buckets for rate limits ("account:URI", "domain:HOST").
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Generations per UTC day, for the daily budget.
CREATE TABLE ai_usage (
    day TEXT PRIMARY KEY,
    count INTEGER NOT NULL DEFAULT 0
);

-- Which worker process holds a running job ("host:pid"), so that a restarted server can take
-- back at once the jobs of a process that died (kill -9) instead of waiting for their lease.
ALTER TABLE jobs ADD COLUMN locked_by TEXT;
