-- 0017: two indexes on sessions that no statement reads (issue 12).
--
-- DeleteExpired, the only statement on these columns, compares each
-- session's last use with its own idle timeout, which no index serves,
-- and reads the table (see sessionStore.DeleteExpired; the SQLite store
-- dropped the same two in its 0016). Each was one more index entry
-- written by every login that opens a session, and sessions_last_seen
-- kept every write of a session's last use (TouchBatch, 1,024 at a time)
-- from being a heap-only (HOT) update: each one wrote a new entry in every
-- index of the table.
DROP INDEX sessions_expires;
DROP INDEX sessions_last_seen;
