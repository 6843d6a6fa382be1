-- 0013: as store/sqlite's 0013. A readable label of each event's target, as
-- it was; the repeat count in a column of its own, outside what the chain
-- covers; and the tamper-evident chain (audit.Chain).
ALTER TABLE audit_events ADD COLUMN target_label text NOT NULL DEFAULT '';

ALTER TABLE audit_events ADD COLUMN repeats bigint NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN repeats_mac bytea;
UPDATE audit_events
   SET repeats = (details->>'repeated')::bigint,
       details = NULLIF(details - 'repeated', '{}'::jsonb)
 WHERE details ? 'repeated';

ALTER TABLE audit_events ADD COLUMN seq bigint;
ALTER TABLE audit_events ADD COLUMN key_id text COLLATE "C";
ALTER TABLE audit_events ADD COLUMN mac bytea;
CREATE UNIQUE INDEX audit_seq ON audit_events (seq) WHERE seq IS NOT NULL;

-- The chain's one row. Appends lock it (SELECT ... FOR UPDATE), so that
-- every instance's events join one chain in commit order.
CREATE TABLE audit_chain (
    id              integer PRIMARY KEY CHECK (id = 1),
    legacy_row      bigint NOT NULL,
    head_seq        bigint NOT NULL DEFAULT 0,
    head_key_id     text NOT NULL DEFAULT '',
    head_link       bytea,
    head_mark       bytea,
    anchor_seq      bigint NOT NULL DEFAULT 0,
    anchor_key_id   text NOT NULL DEFAULT '',
    anchor_link     bytea,
    anchor_mark     bytea,
    genesis_key_id  text NOT NULL DEFAULT '',
    genesis_mark    bytea
);
INSERT INTO audit_chain (id, legacy_row) SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;
