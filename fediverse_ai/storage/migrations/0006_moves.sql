-- Account migration (issue 13): the ids an actor says it is also known as, and where it moved.
ALTER TABLE actors ADD COLUMN also_known_as_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE actors ADD COLUMN moved_to TEXT;
