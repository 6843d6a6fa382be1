-- 0014: as store/sqlite's 0014. Safe defaults.
--
-- The one-time setup tokens that guard the first sign-up when the host set
-- no bootstrap token: only a keyed hash of each is kept, with its expiry.
-- Each instance that starts on a database without users adds its own; the
-- first sign-up spends one and removes them all.
CREATE TABLE setup_tokens (
    token_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT setup_tokens_pkey PRIMARY KEY (token_hash)
);

-- A session keeps the limits it was issued with: its idle timeout in
-- nanoseconds (the absolute one is expires_at already) and whether the
-- login asked to be remembered. Sessions issued before this step keep the
-- defaults they were issued under: 24 hours idle (expires_at, 7 days after
-- login, is theirs).
ALTER TABLE sessions ADD COLUMN idle_timeout_ns bigint NOT NULL DEFAULT 86400000000000;
ALTER TABLE sessions ADD COLUMN remembered boolean NOT NULL DEFAULT false;

-- A two-step login carries the first step's "keep me signed in" to the
-- session the second step opens.
ALTER TABLE challenges ADD COLUMN remember boolean NOT NULL DEFAULT false;
