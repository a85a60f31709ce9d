-- The streaming API's events as every process sharing this database sees them (issue 15):
-- a process publishes here what it stored (a note's id, a boost's announce, a notification's
-- recipient and time) and the processes with open streams read the rows after the last id they
-- saw. Rows are small: the readers re-read the note; a deleted note keeps here the audience
-- its streams need (`deleted`, JSON). `origin` names the publishing process, which delivered
-- the event to its own streams at once. The retention purge drops rows after a few minutes.
CREATE TABLE stream_events (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    note_id INTEGER,
    actor_id INTEGER,
    recipient_id INTEGER,
    announce_id INTEGER,
    at REAL,
    deleted TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX stream_events_created ON stream_events(created_at);

-- The processes reading stream_events now (one row each, renewed while they have streams
-- open): a process writes its events only while another one reads, so an instance of one
-- process, or with no app streaming, writes none.
CREATE TABLE stream_readers (
    origin TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
