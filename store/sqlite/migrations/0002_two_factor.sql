-- 0002: the second factor: TOTP enrollment time, recovery codes and the
-- pending login challenges of the two-step login.

-- When enrollment began: a pending credential older than the enrollment
-- window is refused at confirmation.
ALTER TABLE totp_credentials ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
-- RotateSecrets finds credentials still sealed under an older key.
CREATE INDEX totp_credentials_key ON totp_credentials (key_id);

-- One recovery-code set per user: the salt and the key its HMACs were made
-- under. Codes are stored only as HMAC-SHA-256(key, salt || code).
CREATE TABLE recovery_sets (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_id  TEXT NOT NULL,
    salt    BLOB NOT NULL
);

-- Redeeming is one DELETE of (user_id, code_hash): its rows affected decide.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES recovery_sets (user_id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;

-- A password accepted, a second factor owed. Only the SHA-256 of the token.
CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);

CREATE INDEX challenges_user ON challenges (user_id);
CREATE INDEX challenges_expires ON challenges (expires_at);
