-- Moderation (issue 20 item 3). An admin suspends an account (a local one cannot log in and its
-- actor answers 410; a remote one's activities are refused at the inbox; the posts of either
-- are hidden) or silences it (its posts leave the public timelines and For-you, followers
-- still see them). Both are undone by setting the column back to NULL.
ALTER TABLE actors ADD COLUMN suspended_at REAL;
ALTER TABLE actors ADD COLUMN silenced_at REAL;
CREATE INDEX actors_suspended ON actors(id) WHERE suspended_at IS NOT NULL;
CREATE INDEX actors_silenced ON actors(id) WHERE silenced_at IS NOT NULL;

-- Reports by local users (reporter_id set; remote reports, from incoming Flags, leave it NULL).
-- target_uri: the account reported; forwarded: a Flag was sent to its server.
ALTER TABLE reports ADD COLUMN reporter_id INTEGER REFERENCES actors(id) ON DELETE SET NULL;
ALTER TABLE reports ADD COLUMN target_uri TEXT;
ALTER TABLE reports ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
