-- Retention purges (storage/retention.py) find old rows through these indexes instead of
-- scanning whole tables under the write lock. Activities have none: their ids grow with
-- received_at, so the purge searches the primary key (an index cost inbox intake about 9 %).

-- An activity whose effect is still in place (a follow, like, boost, block) is kept, since an
-- Undo that names it only by id needs its stored copy: looked up by the effect's uri.
CREATE INDEX follows_uri ON follows(uri);
CREATE INDEX blocks_uri ON blocks(uri);
CREATE INDEX tombstones_deleted ON tombstones(deleted_at);
CREATE INDEX sessions_expires ON sessions(expires_at);
