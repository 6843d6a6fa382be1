-- 0020: a successful login's event leaves the audit index by action out
-- (issue 12).
--
-- login.succeeded is the action a healthy log holds most of, and a page
-- of it finds its rows at once walking audit_time; the filter an index
-- must serve is the rarer actions (a user deleted, a group changed, a
-- failed login), which a walk of the whole log would have to look for.
-- Left out of the index, a successful login is one b-tree fewer written,
-- and synced. A query reaches the partial index by repeating its
-- condition (paging.Dialect's RareAction), as audit_outcome's do
-- (migration 0018).
--
-- The price is the same as 0018's, paid by the same page: one filtered on
-- successful logins while other events crowd the log (a password spray
-- writes a failed login per attempt) walks every event newer than the
-- page, some 0.35 seconds per 200,000 of them. Any other filter with it
-- (actor, target, a rare outcome) is read through that filter's index as
-- before.
DROP INDEX audit_action;
CREATE INDEX audit_action ON audit_events (action, time) WHERE action <> 'login.succeeded';
