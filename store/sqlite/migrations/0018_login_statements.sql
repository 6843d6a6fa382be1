-- 0018: fewer pages and statements per audited change and per login
-- attempt (issue 12).
--
-- audit_outcome serves pages filtered by outcome. Most events are
-- successes, and a page of successes finds its rows at once walking
-- audit_time; the filter an index must serve is the rare outcomes
-- (failures, denials), which a walk of the whole log would have to look
-- for. Left out of the index, a success is one b-tree fewer written, and
-- synced, by every login and every change an admin makes. A query reaches
-- the partial index by repeating its condition (paging.Dialect's
-- RareOutcome).
--
-- The price is paid by a page filtered on successes alone while failures
-- crowd the log (a password spray writes a failed login per attempt): the
-- walk passes over every failure newer than the page, some 0.35 seconds
-- per 200,000 of them, where the full index found the page in
-- milliseconds. Any other filter with it (actor, action, target) is read
-- through that filter's index as before.
DROP INDEX audit_outcome;
CREATE INDEX audit_outcome ON audit_events (outcome, time) WHERE outcome <> 'success';

-- prev_last is last_at as it was before the last AddFailures counted the
-- key (meaningful when the key held failures then): the upsert that
-- counts an attempt returns it, so the admission of a login needs no
-- read of the counts before it (throttleStore.AddFailures).
ALTER TABLE throttle_failures ADD COLUMN prev_last INTEGER;
