-- Custom emoji (issue 13 item 7). Local ones, uploaded by an admin: the picture is a PNG of
-- ours under storage.media_dir/emoji/, re-encoded on upload. Remote ones live in the media
-- cache (remote_files, kind 'emoji'), found by the icon URL of the tag that declared them.
CREATE TABLE custom_emojis (
    id INTEGER PRIMARY KEY,
    shortcode TEXT NOT NULL UNIQUE COLLATE NOCASE,
    file_name TEXT NOT NULL UNIQUE,
    media_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    category TEXT,
    visible_in_picker INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- The emoji a remote actor's document declares for its name, bio and fields, as checked
-- [shortcode, icon URL] pairs.
ALTER TABLE actors ADD COLUMN emojis_json TEXT NOT NULL DEFAULT '[]';

-- A reaction with a custom emoji: where its picture is (cached like any remote emoji).
ALTER TABLE reactions ADD COLUMN emoji_url TEXT;
