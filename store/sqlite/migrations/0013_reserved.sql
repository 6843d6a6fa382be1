-- 0013: reserved for the audit trail's change, made on another branch at
-- the same time; this placeholder does nothing and gives way to it at the
-- merge (migrations are numbered without gaps).
SELECT 1;
