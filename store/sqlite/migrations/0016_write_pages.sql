-- 0016: fewer pages written per login and per audited change (issue 12).
--
-- Each index is one more page written, and synced, by every row inserted.
--
-- No query reads these two on sessions: the only one on those columns,
-- DeleteExpired, compares last_seen_at with each session's own idle
-- timeout, which no index serves, and reads the table (see
-- sessionStore.DeleteExpired). sessions_last_seen was also one more page
-- per touch of a session's last use.
DROP INDEX sessions_expires;
DROP INDEX sessions_last_seen;

-- The chain's order is the rowid's: each chained event gets an ID and a
-- seq each above every one before, under the one write lock, so pruning
-- walks the rowid (see scope.pruneCut) and needs no index on seq. The
-- chain check still finds a seq out of place (VerifyAuditLog).
DROP INDEX audit_seq;
