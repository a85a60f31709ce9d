-- Deliveries to one inbox go out in the order they were queued, so that a retried Create is
-- not overtaken by its Update: a job with a queue_key is not claimed while an older job with
-- the same key is pending or running (storage/jobs.py). NULL for jobs that need no order.
ALTER TABLE jobs ADD COLUMN queue_key TEXT;
CREATE INDEX jobs_queue ON jobs(queue_key, state, id) WHERE queue_key IS NOT NULL;
