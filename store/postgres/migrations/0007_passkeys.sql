-- 0007: passkeys, as store/sqlite's 0007: WebAuthn credentials and the
-- users' WebAuthn user handles. Both go with their user.

-- One row per registered authenticator. credential_id is the
-- authenticator's, unique across all users; id is usher's own. sign_count
-- is a uint32, which integer cannot hold.
CREATE TABLE passkeys (
    id              text COLLATE "C" NOT NULL,
    user_id         text COLLATE "C" NOT NULL,
    name            text NOT NULL,
    credential_id   bytea NOT NULL,
    public_key      bytea NOT NULL,
    aaguid          bytea NOT NULL,
    transports      text[] NOT NULL DEFAULT '{}',
    backup_eligible boolean NOT NULL DEFAULT false,
    backed_up       boolean NOT NULL DEFAULT false,
    sign_count      bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    CONSTRAINT passkeys_pkey PRIMARY KEY (id),
    CONSTRAINT passkeys_credential_id_unique UNIQUE (credential_id),
    CONSTRAINT passkeys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- A user's passkeys, oldest first; also the count in user listings.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at, id);

-- The WebAuthn user handle: 64 random bytes, made once per user.
CREATE TABLE passkey_users (
    user_id text COLLATE "C" NOT NULL,
    handle  bytea NOT NULL,
    CONSTRAINT passkey_users_pkey PRIMARY KEY (user_id),
    CONSTRAINT passkey_users_handle_unique UNIQUE (handle),
    CONSTRAINT passkey_users_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
