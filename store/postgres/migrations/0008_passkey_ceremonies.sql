-- 0008: pending WebAuthn ceremonies, as store/sqlite's 0008: passkey
-- registration and login, kept between their begin and their finish. A
-- ceremony with a user goes with it; a passwordless login's has none until
-- the authenticator answers.

-- Only the keyed hash of the key the client holds, as for challenges.
-- Taking a ceremony is one DELETE ... RETURNING of key_hash. challenge_id
-- names the login challenge a second-factor ceremony answers, '' for the
-- other kinds; it is no foreign key (each of the two expires and is pruned
-- on its own). data is the ceremony's state, opaque to the store.
CREATE TABLE passkey_ceremonies (
    id           text COLLATE "C" NOT NULL,
    key_hash     bytea NOT NULL,
    kind         text NOT NULL,
    user_id      text COLLATE "C", -- NULL for a passwordless login
    challenge_id text NOT NULL DEFAULT '',
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT passkey_ceremonies_pkey PRIMARY KEY (id),
    CONSTRAINT passkey_ceremonies_key_hash_unique UNIQUE (key_hash),
    CONSTRAINT passkey_ceremonies_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- The cascade from users, and DeleteExpired.
CREATE INDEX passkey_ceremonies_user ON passkey_ceremonies (user_id);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
