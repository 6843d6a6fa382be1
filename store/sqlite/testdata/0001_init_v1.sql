-- 0001: the first schema.
--
-- Conventions: times are INTEGER unix nanoseconds (UTC); an optional time is
-- NULL. Text never NULL unless the column says why. Every table that hangs
-- off a user cascades on its deletion, so user.Store.Delete is one statement.

-- groups.name_key is the name lower-cased by Go (strings.ToLower): SQLite's
-- NOCASE folds ASCII only, and "Équipe" and "équipe" must collide too.
CREATE TABLE groups (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    name_key           TEXT NOT NULL UNIQUE,
    description        TEXT NOT NULL DEFAULT '',
    permissions        TEXT NOT NULL DEFAULT '', -- space-separated
    require_two_factor INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

INSERT INTO groups (id, name, name_key, description, permissions, created_at, updated_at)
VALUES
    ('admin', 'Admins', 'admins', 'Full access to everything.', '*',
     CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000000,
     CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000000),
    ('users', 'Users', 'users', 'Can look after their own account.', 'profile:*',
     CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000000,
     CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000000);

-- users.name_key: see groups.name_key; it is the sort key of the name order
-- and what Search matches names against.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE, -- arrives normalized (lower-case)
    name          TEXT NOT NULL DEFAULT '',
    name_key      TEXT NOT NULL DEFAULT '',
    group_id      TEXT NOT NULL REFERENCES groups (id) ON DELETE RESTRICT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER, -- NULL: never logged in
    -- The last-login order's key, never-logged-in first. A column rather
    -- than an index on the expression: SQLite seeks a (key, id) row-value
    -- range on a column index but only scans one on an expression index.
    last_login_key INTEGER GENERATED ALWAYS AS (COALESCE(last_login_at, 0)) VIRTUAL
);

-- The foreign key check on group deletion, and CountInGroup.
CREATE INDEX users_group ON users (group_id, disabled);

-- One index per listing order, ending in id, so that a keyset page is one
-- index seek whatever its depth. The email order needs none of its own: the
-- UNIQUE index on email already gives it, and a unique key has no ties.
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_name ON users (name_key, id);
CREATE INDEX users_last_login ON users (last_login_key, id);

CREATE TABLE avatars (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);
-- DeleteExpired: "expires_at < ? OR last_seen_at < ?" uses both.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Consecutive login failures per key (see auth.ThrottleStore).
CREATE TABLE throttle_failures (
    key     TEXT PRIMARY KEY,
    count   INTEGER NOT NULL,
    last_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX throttle_failures_last ON throttle_failures (last_at);

-- Fixed-window attempt counters per key.
CREATE TABLE throttle_hits (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX throttle_hits_window ON throttle_hits (window_start);

-- AUTOINCREMENT: an event ID is never reused, even after Prune emptied the
-- table, so an ID in a log line or a ticket names one event forever.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_email TEXT NOT NULL DEFAULT '',
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    details     TEXT -- JSON object; NULL when the event has none
);

-- Newest-first paging, unfiltered and under each common filter. An index on
-- (x, time) is really (x, time, id), so each also serves the (time, id)
-- keyset.
CREATE INDEX audit_time ON audit_events (time);
CREATE INDEX audit_action ON audit_events (action, time);
CREATE INDEX audit_actor ON audit_events (actor_id, time);
CREATE INDEX audit_target ON audit_events (target_type, target_id, time);
CREATE INDEX audit_outcome ON audit_events (outcome, time);

-- TOTP second factor, one per user. sealed is the secret under AES-256-GCM
-- with the host key named by key_id; confirmed_at is NULL until the user has
-- proved a first code; last_step is the replay guard. For now it only feeds
-- user.Summary.TwoFactor and the TwoFactor filter.
CREATE TABLE totp_credentials (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_id       TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0
);
