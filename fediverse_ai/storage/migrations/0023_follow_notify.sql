-- "Notify me" of a followed account's posts (the client API's `notify` of
-- POST /api/v1/accounts/:id/follow, issue 14): the follower gets a `status` notification for each
-- new post of theirs. Only our users' follows carry it; nothing is federated.
ALTER TABLE follows ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
