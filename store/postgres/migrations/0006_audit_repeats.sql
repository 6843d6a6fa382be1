-- 0004: repeated events folded into one, as store/sqlite's 0004. A denial
-- or a throttled attempt repeated within a minute is stored once, under
-- its repeat key, and counted in details.repeated (audit.Repeater). Other
-- events have none.
ALTER TABLE audit_events ADD COLUMN repeat_key text COLLATE "C";
CREATE UNIQUE INDEX audit_events_repeat ON audit_events (repeat_key) WHERE repeat_key IS NOT NULL;
