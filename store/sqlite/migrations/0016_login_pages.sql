-- 0016: fewer pages written per login (issue 12).
--
-- Each index on sessions is one more page written, and synced, by every
-- login that opens a session, and sessions_last_seen one more by every
-- touch of a session's last use. No query reads these two: the only one
-- on those columns, DeleteExpired, compares last_seen_at with each
-- session's own idle timeout, which no index serves, and reads the table
-- (see sessionStore.DeleteExpired).
DROP INDEX sessions_expires;
DROP INDEX sessions_last_seen;
