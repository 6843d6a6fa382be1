-- 0001: the first schema, the same logical schema as store/sqlite's 0001.
--
-- Conventions: times are timestamptz (microsecond precision, which is what
-- auth.Manager keeps); an optional time is NULL. Text is never NULL unless
-- the column says why. Every table that hangs off a user cascades on its
-- deletion, so user.Store.Delete is one statement. Constraints are named:
-- the store maps violations to its sentinel errors by SQLSTATE and name.
--
-- Every column that a listing sorts or pages by is COLLATE "C" (byte order,
-- as SQLite's BINARY), so the order and the keyset cursors do not depend on
-- the database's locale. Case-insensitive keys (name_key) hold the name
-- lower-cased by Go, not by lower(), whose folding depends on the collation
-- ("É" stays "É" under "C"): both stores then agree on which names collide.

CREATE TABLE groups (
    id                 text COLLATE "C" NOT NULL,
    name               text NOT NULL,
    name_key           text COLLATE "C" NOT NULL,
    description        text NOT NULL DEFAULT '',
    permissions        text[] NOT NULL DEFAULT '{}', -- in the order given
    require_two_factor boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (id),
    CONSTRAINT groups_name_unique UNIQUE (name_key)
);

-- The built-in groups (admin, users) are not created here: auth.New creates
-- them through group.Store (auth/builtin.go), the same for every store.
-- This file once inserted them; that first text is kept verbatim in
-- testdata/0001_init_v1.sql. The runner records versions, not text, so a
-- database made by the old file is past this step and keeps its groups.

CREATE TABLE users (
    id             text COLLATE "C" NOT NULL,
    email          text COLLATE "C" NOT NULL, -- arrives normalized (lower-case)
    name           text NOT NULL DEFAULT '',
    name_key       text COLLATE "C" NOT NULL DEFAULT '', -- see the header
    group_id       text COLLATE "C" NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    password_hash  text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_login_at  timestamptz, -- NULL: never logged in
    -- The last-login order's key. Never-logged-in sorts first as the Go
    -- zero time (0001-01-01 UTC), which is also what a cursor carries.
    last_login_key timestamptz NOT NULL
        GENERATED ALWAYS AS (COALESCE(last_login_at, '0001-01-01 00:00:00+00'::timestamptz)) STORED,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_unique UNIQUE (email),
    CONSTRAINT users_group_fk FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE RESTRICT
);

-- The foreign key check on group deletion, and CountInGroup.
CREATE INDEX users_group ON users (group_id, disabled);

-- One index per listing order, ending in id, so that a keyset page is one
-- index range scan whatever its depth. The email order uses the UNIQUE
-- index on email: a unique key has no ties.
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_name ON users (name_key, id);
CREATE INDEX users_last_login ON users (last_login_key, id);

CREATE TABLE avatars (
    user_id      text COLLATE "C" NOT NULL,
    content_type text NOT NULL,
    data         bytea NOT NULL,
    CONSTRAINT avatars_pkey PRIMARY KEY (user_id),
    CONSTRAINT avatars_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id           text COLLATE "C" NOT NULL,
    token_hash   bytea NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash_unique UNIQUE (token_hash),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);
-- DeleteExpired: "expires_at < $1 OR last_seen_at < $2" is a BitmapOr of both.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Throttle keys are bytea: they are opaque strings the Manager derives from
-- what a client typed, and need not be valid UTF-8 (text would refuse them).

-- Consecutive login failures per key (see auth.ThrottleStore).
CREATE TABLE throttle_failures (
    key     bytea NOT NULL,
    count   integer NOT NULL,
    last_at timestamptz NOT NULL,
    CONSTRAINT throttle_failures_pkey PRIMARY KEY (key)
);

CREATE INDEX throttle_failures_last ON throttle_failures (last_at);

-- Fixed-window attempt counters per key.
CREATE TABLE throttle_hits (
    key          bytea NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    CONSTRAINT throttle_hits_pkey PRIMARY KEY (key)
);

CREATE INDEX throttle_hits_window ON throttle_hits (window_start);

-- An identity never hands out a value twice, even after Prune emptied the
-- table, so an ID in a log line or a ticket names one event forever.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    time        timestamptz NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    actor_email text NOT NULL DEFAULT '',
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    details     jsonb, -- an object; NULL when the event has none
    CONSTRAINT audit_events_pkey PRIMARY KEY (id)
);

-- Newest-first paging on the (time, id) keyset, unfiltered and under each
-- common filter.
CREATE INDEX audit_time ON audit_events (time, id);
CREATE INDEX audit_action ON audit_events (action, time, id);
CREATE INDEX audit_actor ON audit_events (actor_id, time, id);
CREATE INDEX audit_target ON audit_events (target_type, target_id, time, id);
CREATE INDEX audit_outcome ON audit_events (outcome, time, id);

-- TOTP second factor, one per user. sealed is the secret under AES-256-GCM
-- with the host key named by key_id; confirmed_at is NULL until the user has
-- proved a first code; last_step is the replay guard. For now it only feeds
-- user.Summary.TwoFactor and the TwoFactor filter.
CREATE TABLE totp_credentials (
    user_id      text COLLATE "C" NOT NULL,
    key_id       text NOT NULL,
    sealed       bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    CONSTRAINT totp_credentials_pkey PRIMARY KEY (user_id),
    CONSTRAINT totp_credentials_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
