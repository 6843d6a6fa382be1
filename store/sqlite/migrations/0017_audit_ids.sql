-- 0017: an audit event's ID without AUTOINCREMENT (issue 12).
--
-- AUTOINCREMENT writes its counter in sqlite_sequence with every insert:
-- one page more for every audited change (a login, a user created), synced
-- with the rest. The chain's one row, which every chained append writes
-- anyway, keeps the highest ID ever used instead (last_row), so an ID still
-- names one event forever, even after Prune emptied the table.
--
-- SQLite cannot drop AUTOINCREMENT from a table, so the table is rebuilt
-- (https://sqlite.org/lang_altertable.html#otheralter): the rows are copied
-- with their IDs, and the indexes made again. This runs once, inside the
-- migration's transaction, and takes time in proportion to the log: 16 s
-- for a million events on a loaded 2-vCPU VM, during which Open waits.
ALTER TABLE audit_chain ADD COLUMN last_row INTEGER NOT NULL DEFAULT 0;
UPDATE audit_chain SET last_row = max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0),
    coalesce((SELECT max(id) FROM audit_events), 0));

CREATE TABLE audit_events_0017 (
    id           INTEGER PRIMARY KEY,
    time         INTEGER NOT NULL,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    actor_id     TEXT NOT NULL DEFAULT '',
    actor_email  TEXT NOT NULL DEFAULT '',
    target_type  TEXT NOT NULL DEFAULT '',
    target_id    TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    details      TEXT, -- JSON object; NULL when the event has none
    repeat_key   TEXT,
    target_label TEXT NOT NULL DEFAULT '',
    repeats      INTEGER NOT NULL DEFAULT 1,
    repeats_mac  BLOB,
    seq          INTEGER,
    key_id       TEXT,
    mac          BLOB
);
INSERT INTO audit_events_0017 (id, time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent,
        reason, details, repeat_key, target_label, repeats, repeats_mac, seq, key_id, mac)
    SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent,
        reason, details, repeat_key, target_label, repeats, repeats_mac, seq, key_id, mac
    FROM audit_events ORDER BY id;
DROP TABLE audit_events;
ALTER TABLE audit_events_0017 RENAME TO audit_events;
DELETE FROM sqlite_sequence WHERE name = 'audit_events';

CREATE INDEX audit_time ON audit_events (time);
CREATE INDEX audit_action ON audit_events (action, time);
CREATE INDEX audit_actor ON audit_events (actor_id, time);
CREATE INDEX audit_target ON audit_events (target_type, target_id, time);
CREATE INDEX audit_outcome ON audit_events (outcome, time);
CREATE UNIQUE INDEX audit_events_repeat ON audit_events (repeat_key) WHERE repeat_key IS NOT NULL;
CREATE UNIQUE INDEX audit_seq ON audit_events (seq) WHERE seq IS NOT NULL;
