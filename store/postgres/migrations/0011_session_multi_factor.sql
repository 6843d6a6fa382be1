-- 0011: as store/sqlite's 0011. A session remembers whether the login
-- that opened it was multi-factor by itself (a passwordless passkey with
-- user verification, or a sign-on provider trusted to enforce MFA), so
-- that such a session satisfies a group's two-factor requirement without
-- a local factor.
ALTER TABLE sessions ADD COLUMN multi_factor boolean NOT NULL DEFAULT false;
