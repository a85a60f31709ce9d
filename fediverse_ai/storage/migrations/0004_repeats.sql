-- Activities found again by the id they undo or repeat (issue 18: an Undo of a reused Follow
-- id, Accept/Reject of our own follows) look follows and blocks up by uri.
CREATE INDEX follows_uri ON follows(uri);
CREATE INDEX blocks_uri ON blocks(uri);
