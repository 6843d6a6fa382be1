-- 0007: passkeys (WebAuthn credentials) and the users' WebAuthn user
-- handles. Both go with their user.

-- One row per registered authenticator. credential_id is the
-- authenticator's, unique across all users; id is usher's own.
CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    credential_id   BLOB NOT NULL UNIQUE,
    public_key      BLOB NOT NULL,
    aaguid          BLOB NOT NULL,
    transports      TEXT NOT NULL DEFAULT '[]', -- a JSON array of strings
    backup_eligible INTEGER NOT NULL DEFAULT 0,
    backed_up       INTEGER NOT NULL DEFAULT 0,
    sign_count      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);

-- A user's passkeys, oldest first; also the count in user listings.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at, id);

-- The WebAuthn user handle: 64 random bytes, made once per user.
CREATE TABLE passkey_users (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle  BLOB NOT NULL UNIQUE
);
