-- 0008: pending WebAuthn ceremonies (passkey registration and login), kept
-- between their begin and their finish. A ceremony with a user goes with
-- it; a passwordless login's has none until the authenticator answers.

-- Only the keyed hash of the key the client holds, as for challenges.
-- Taking a ceremony is one DELETE ... RETURNING of key_hash. challenge_id
-- names the login challenge a second-factor ceremony answers, '' for the
-- other kinds; it is no foreign key (each of the two expires and is pruned
-- on its own). data is the ceremony's state, opaque to the store.
CREATE TABLE passkey_ceremonies (
    id           TEXT PRIMARY KEY,
    key_hash     BLOB NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE, -- NULL for a passwordless login
    challenge_id TEXT NOT NULL DEFAULT '',
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

-- The cascade from users, and DeleteExpired.
CREATE INDEX passkey_ceremonies_user ON passkey_ceremonies (user_id);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
