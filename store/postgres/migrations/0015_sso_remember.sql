-- 0015: a begun sign-on keeps the login page's "keep me signed in".
--
-- The choice is made on the login page, before the browser goes to the
-- provider; the callback that opens the session comes back from there
-- without it. Flows begun before this step were not asked: false.
ALTER TABLE oidc_flows ADD COLUMN remember boolean NOT NULL DEFAULT false;
