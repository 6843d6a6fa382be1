-- 0020: a session stored in one b-tree keyed by its token's hash
-- (issue 12).
--
-- sessions was a rowid table with two unique indexes, one on id (its
-- PRIMARY KEY, a text) and one on token_hash: opening a session wrote
-- three b-trees besides sessions_user, one page and its sync each, and
-- Authenticate probed the token_hash index and then the table. WITHOUT
-- ROWID, keyed by token_hash, the row lives in the key's b-tree: a login
-- writes one page fewer, Authenticate makes one probe fewer, and id keeps
-- its own unique index (Get, Touch, Delete find a session by ID).
--
-- A session row is about 200 bytes (its user agent is cut to 512 bytes,
-- see auth.Client), within what SQLite advises for a WITHOUT ROWID row
-- (https://sqlite.org/withoutrowid.html#when_to_use_without_rowid).
--
-- The rows are copied as they are; nothing references sessions, so the
-- table can be dropped and renamed inside the migration's transaction.
CREATE TABLE sessions_0020 (
    token_hash      BLOB PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    multi_factor    INTEGER NOT NULL DEFAULT 0,
    idle_timeout_ns INTEGER NOT NULL DEFAULT 86400000000000,
    remembered      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO sessions_0020 (token_hash, id, user_id, created_at, last_seen_at, expires_at, ip, user_agent,
        multi_factor, idle_timeout_ns, remembered)
    SELECT token_hash, id, user_id, created_at, last_seen_at, expires_at, ip, user_agent,
        multi_factor, idle_timeout_ns, remembered
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_0020 RENAME TO sessions;
-- The list of a user's sessions sorts by (created_at, id): the index ends in
-- id, so the list reads it in order and sorts nothing.
CREATE INDEX sessions_user ON sessions (user_id, created_at, id);
