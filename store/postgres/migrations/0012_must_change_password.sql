-- 0012: as store/sqlite's 0012. A user may owe a password change: set by
-- an administrator with a reset, cleared when the user changes it. Until
-- then every session of the user can do nothing but change its password.
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
