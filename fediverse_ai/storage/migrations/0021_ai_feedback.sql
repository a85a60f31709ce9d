-- Feedback on the AI's answers (issue 16 item 3).
-- What answered: the backend, the model and the kind of request (text, image, edit, vision),
-- recorded when the answer is finished; `day` is its UTC day (YYYY-MM-DD, computed in Python),
-- for the answers-per-day series. Answers from before this migration keep NULLs and show as
-- "unknown": the log lines are the only trace of their backend.
ALTER TABLE ai_replies ADD COLUMN backend TEXT;
ALTER TABLE ai_replies ADD COLUMN model TEXT;
ALTER TABLE ai_replies ADD COLUMN intent TEXT;
ALTER TABLE ai_replies ADD COLUMN day TEXT;
CREATE INDEX ai_replies_reply ON ai_replies(reply_uri) WHERE reply_uri IS NOT NULL;
CREATE INDEX ai_replies_day ON ai_replies(day) WHERE day IS NOT NULL;

-- One row per like, boost or reply that one of the AI's posts received. Each points at what
-- caused it (reaction, announce or reply note) with ON DELETE CASCADE, so that an Undo, a
-- deleted reply or a deleted account takes its feedback with it, with no bookkeeping of ours.
-- verdict: likes and boosts are 'positive'; a reply is classified (positive, negative, neutral)
-- by a job, or 'withheld' when its author keeps their posts out of AI processing: counted, never
-- read. reason: the classifier's explanation (the words it matched).
CREATE TABLE ai_feedback (
    id INTEGER PRIMARY KEY,
    mention_uri TEXT NOT NULL REFERENCES ai_replies(mention_uri) ON DELETE CASCADE,
    answer_note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('like', 'boost', 'reply')),
    reaction_id INTEGER UNIQUE REFERENCES reactions(id) ON DELETE CASCADE,
    announce_id INTEGER UNIQUE REFERENCES announces(id) ON DELETE CASCADE,
    reply_note_id INTEGER UNIQUE REFERENCES notes(id) ON DELETE CASCADE,
    verdict TEXT NOT NULL CHECK (verdict IN ('positive', 'negative', 'neutral', 'withheld')),
    reason TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL,
    created_at REAL NOT NULL
);
-- Both cover the sums of /admin/ai (BENCHMARKS.md, last section): per day, and per answer.
CREATE INDEX ai_feedback_day ON ai_feedback(day, kind, verdict);
CREATE INDEX ai_feedback_mention ON ai_feedback(mention_uri, verdict, kind, day);
CREATE INDEX ai_feedback_answer ON ai_feedback(answer_note_id);
