-- 0003: record versions, as store/sqlite's 0003. Update writes a user or
-- a group only while its version is the one the caller read, and counts
-- it up: an edit made from a stale read is refused, never merged.
-- Existing rows start at 1.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN version bigint NOT NULL DEFAULT 1;
