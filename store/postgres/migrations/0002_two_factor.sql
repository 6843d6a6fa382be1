-- 0002: the second factor, as store/sqlite's 0002: TOTP enrollment time,
-- recovery codes and the pending login challenges of the two-step login.

-- When enrollment began: a pending credential older than the enrollment
-- window is refused at confirmation. Rows from before this step read as
-- the zero time, as in SQLite.
ALTER TABLE totp_credentials
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';
ALTER TABLE totp_credentials ALTER COLUMN created_at DROP DEFAULT;
-- RotateSecrets finds credentials still sealed under an older key.
CREATE INDEX totp_credentials_key ON totp_credentials (key_id);

-- One recovery-code set per user: the salt and the key its HMACs were made
-- under. Codes are stored only as HMAC-SHA-256(key, salt || code).
CREATE TABLE recovery_sets (
    user_id text COLLATE "C" NOT NULL,
    key_id  text NOT NULL,
    salt    bytea NOT NULL,
    CONSTRAINT recovery_sets_pkey PRIMARY KEY (user_id),
    CONSTRAINT recovery_sets_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Redeeming is one DELETE of (user_id, code_hash): its rows affected decide.
CREATE TABLE recovery_codes (
    user_id   text COLLATE "C" NOT NULL,
    code_hash bytea NOT NULL,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, code_hash),
    CONSTRAINT recovery_codes_set_fk FOREIGN KEY (user_id) REFERENCES recovery_sets (user_id) ON DELETE CASCADE
);

-- A password accepted, a second factor owed. Only the SHA-256 of the token.
CREATE TABLE challenges (
    id         text COLLATE "C" NOT NULL,
    token_hash bytea NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    failures   integer NOT NULL DEFAULT 0,
    ip         text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    CONSTRAINT challenges_pkey PRIMARY KEY (id),
    CONSTRAINT challenges_token_hash_unique UNIQUE (token_hash),
    CONSTRAINT challenges_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX challenges_user ON challenges (user_id);
CREATE INDEX challenges_expires ON challenges (expires_at);
