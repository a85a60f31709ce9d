-- The remote media cache (issue 13): attachments, avatars and headers of other servers, fetched
-- through the SSRF guard, re-encoded, and served from us, so pages never hotlink a remote host.
CREATE TABLE remote_files (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                      -- attachment, avatar, header
    state TEXT NOT NULL DEFAULT 'pending',   -- pending, done, failed
    file_name TEXT UNIQUE,                   -- under storage.media_dir/cache/
    thumb_name TEXT,
    media_type TEXT,
    width INTEGER,
    height INTEGER,
    size INTEGER,
    error TEXT,
    fetched_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX remote_files_age ON remote_files(state, fetched_at);
