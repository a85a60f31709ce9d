-- Issue 19: the title (`name`) of an Article or Page, shown as its heading and read by the AI
-- with the thread; and the `sensitive` flag some servers set on one attachment, not the note.
ALTER TABLE notes ADD COLUMN title TEXT;
ALTER TABLE media ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
