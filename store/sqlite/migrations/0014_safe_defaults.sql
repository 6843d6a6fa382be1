-- 0014: safe defaults.
--
-- The one-time setup tokens that guard the first sign-up when the host set
-- no bootstrap token: only a keyed hash of each is kept, with its expiry.
-- Each instance that starts on a database without users adds its own; the
-- first sign-up spends one and removes them all.
CREATE TABLE setup_tokens (
    token_hash BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A session keeps the limits it was issued with: its idle timeout (the
-- absolute one is expires_at already) and whether the login asked to be
-- remembered. Sessions issued before this step keep the defaults they were
-- issued under: 24 hours idle (expires_at, 7 days after login, is theirs).
ALTER TABLE sessions ADD COLUMN idle_timeout_ns INTEGER NOT NULL DEFAULT 86400000000000;
ALTER TABLE sessions ADD COLUMN remembered INTEGER NOT NULL DEFAULT 0;

-- A two-step login carries the first step's "keep me signed in" to the
-- session the second step opens.
ALTER TABLE challenges ADD COLUMN remember INTEGER NOT NULL DEFAULT 0;
