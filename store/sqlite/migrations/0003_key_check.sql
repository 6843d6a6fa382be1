-- 0003: the key check, and session hashes keyed with the secret key.

-- One row: the key ID and HMAC by which auth.New recognises the secret key
-- this database was made with (auth.KeyCheck), and refuses another.
CREATE TABLE key_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    value  BLOB NOT NULL
);

-- Session and challenge tokens were stored as plain SHA-256; they are now
-- HMAC-SHA-256 under a key derived from the secret key, so no old hash can
-- match again. Retire them: everybody logs in once more.
DELETE FROM sessions;
DELETE FROM challenges;
