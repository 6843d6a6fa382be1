-- 0018: fewer index entries written by every login and every audited
-- change (issue 12), as store/sqlite's 0018, 0020, 0021 and 0022. Each
-- entry is WAL written, and flushed, by the commit, and each index is one
-- more page a login dirties.
--
-- audit_outcome leaves successes out. Most events are successes, and a
-- page of them finds its rows at once walking audit_time; the filter an
-- index must serve is the rare outcomes (failures, denials), which a walk
-- of the whole log would have to look for. A query reaches the partial
-- index by repeating its condition (paging.Dialect's RareOutcome): the
-- planner proves a partial index usable only from the query's own terms.
-- The price: a page filtered on successes alone walks audit_time past
-- every failure newer than the page, which a password spray makes many
-- of; any other filter with it (actor, action, target) is read through
-- that filter's index as before.
DROP INDEX audit_outcome;
CREATE INDEX audit_outcome ON audit_events (outcome, time, id) WHERE outcome <> 'success';

-- audit_action leaves successful logins out, the action a healthy log
-- holds most of, on the same reasoning (paging.Dialect's RareAction): a
-- page of successful logins alone walks audit_time, paying as a page of
-- successes does, and CountByDay counts them over a range of audit_time
-- (reading each event of the range), the other actions over this index.
DROP INDEX audit_action;
CREATE INDEX audit_action ON audit_events (action, time, id) WHERE action <> 'login.succeeded';

-- audit_actor leaves out a user's events on their own account (every
-- login, logout, second factor and profile change), which audit_target
-- holds already, and events with no actor (a failed login naming no
-- account), which no filter asks for. A page filtered by actor merges two
-- walks in its order, this index, whose condition the query repeats, and
-- audit_target for the actor's own account (paging.Dialect's ActorOthers
-- and LimitArms): the second walk passes over the events others made on
-- the actor's account too, reading each one's row to tell, and every row
-- of the page is read by ID once the keys are merged.
DROP INDEX audit_actor;
CREATE INDEX audit_actor ON audit_events (actor_id, time, id)
    WHERE actor_id <> '' AND (target_type <> 'user' OR target_id <> actor_id);

-- throttle_failures_last goes. Every password attempt counts two keys,
-- and each count moves its row's last_at: with an index on it, no such
-- update could be heap-only (HOT), so each wrote a new entry in this index
-- and in the primary key too. The only statement that read it is Prune's
-- DELETE of the keys idle since a cutoff, which Manager.PruneSessions runs
-- now and then, not per request; it now reads the table (see
-- throttleStore.Prune), as DeleteExpired reads the sessions since 0017.
DROP INDEX throttle_failures_last;

-- audit_seq stays, unlike in store/sqlite's 0019: PruneChained finds its
-- cut by seq through it (MIN(seq) past a time, the row of one seq).
