-- Sign-ups waiting for an admin (instance.approval_required). The account itself (actor row,
-- key pair) is only made on approval, so that a pending name is neither followable nor
-- found by WebFinger. A rejected row stays, so that its login is told so and the name is
-- not taken by a new request; an admin may still approve it later.
CREATE TABLE signups (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected')),
    address TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    decided_at REAL
);
CREATE INDEX signups_state ON signups(state, created_at);
