-- 0021: an actor's events on their own account leave the audit index by
-- actor out (issue 12).
--
-- Every login, logout, second factor and profile change is an event of a
-- user on their own account: audit_target holds it under that account
-- already, and audit_actor held it a second time, one more page written,
-- and synced, by each. An event with no actor (a failed login naming no
-- account) was indexed under '' too, which no filter asks for. The index
-- now holds the rest, and a page filtered by actor merges two walks in
-- its order: this index, whose condition the query repeats so that the
-- planner reads it, and audit_target for the actor's own account
-- (paging.Dialect's ActorOthers). The second walk passes over the events
-- others made on the actor's account too, and reads each event's row to
-- tell: a page by actor costs 1.4 to 1.6 times the one walk it replaces,
-- some 100 to 170 microseconds more (BenchmarkActorPageMerge), where
-- every login writes a page fewer.
DROP INDEX audit_actor;
CREATE INDEX audit_actor ON audit_events (actor_id, time) WHERE actor_id <> '' AND (target_type <> 'user' OR target_id <> actor_id);
