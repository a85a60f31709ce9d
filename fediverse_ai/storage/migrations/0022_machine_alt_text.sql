-- Machine-written descriptions of remote pictures that arrived without alt text (issue 16 item 5).
-- One per attachment, gone with it (a deleted or edited post drops its media rows). Shown only to
-- local users who asked for them, labelled as automatic; never federated, never in the client
-- API's `description` (that is the author's). `source` names what wrote it: "offline" (the
-- EfficientNet labels and OCR, worded by a template) or "backend: model" for a model that sees.
CREATE TABLE media_machine_alt (
    media_id INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- The viewer's opt-in, on /settings/ai: "describe pictures that come without a description".
ALTER TABLE ai_preferences ADD COLUMN describe_images INTEGER NOT NULL DEFAULT 0;

-- A cached file names its attachments by URL: the describe jobs are queued from that lookup.
CREATE INDEX media_url ON media(url);
