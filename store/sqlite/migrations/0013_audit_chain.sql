-- 0013: a readable label of each event's target, kept as it was (a user's
-- email, a group's name), so a deleted user's history still reads; and the
-- tamper-evident chain (audit.Chain).
ALTER TABLE audit_events ADD COLUMN target_label TEXT NOT NULL DEFAULT '';

-- The count of a folded repeat moves out of details into its own column:
-- details are covered by the chain, a repeat count grows after the event
-- was written and is not.
ALTER TABLE audit_events ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
-- A chained event that folds repeats carries a keyed mark over its link and
-- its count, made anew at each repeat, so the count cannot be changed
-- either.
ALTER TABLE audit_events ADD COLUMN repeats_mac BLOB;
UPDATE audit_events
   SET repeats = json_extract(details, '$.repeated'),
       details = NULLIF(json_remove(details, '$.repeated'), '{}')
 WHERE json_extract(details, '$.repeated') IS NOT NULL;

-- Each event's link: seq numbers the chain without gaps, mac is the keyed
-- hash over the previous link's mac, seq and the event, under the derived
-- key that key_id names. NULL on events written before this migration.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
ALTER TABLE audit_events ADD COLUMN mac BLOB;
CREATE UNIQUE INDEX audit_seq ON audit_events (seq) WHERE seq IS NOT NULL;

-- The chain's one row: its head (newest link, with a mark of its own so a
-- cut tail shows), its anchor (the newest link pruned), the highest event
-- ID written before the chain began (those events are not covered) and the
-- genesis mark that vouches for that boundary.
CREATE TABLE audit_chain (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    legacy_row      INTEGER NOT NULL,
    head_seq        INTEGER NOT NULL DEFAULT 0,
    head_key_id     TEXT NOT NULL DEFAULT '',
    head_link       BLOB,
    head_mark       BLOB,
    anchor_seq      INTEGER NOT NULL DEFAULT 0,
    anchor_key_id   TEXT NOT NULL DEFAULT '',
    anchor_link     BLOB,
    anchor_mark     BLOB,
    genesis_key_id  TEXT NOT NULL DEFAULT '',
    genesis_mark    BLOB
);
INSERT INTO audit_chain (id, legacy_row) SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;
