-- 0010: single sign-on with OpenID Connect providers: the providers, the
-- identities at them linked to local users, and the pending login flows.

-- One row per provider; id is the admin's (oidc.CheckID). The client
-- secret is kept sealed by package auth under the host's key key_id, byte
-- for byte ('' and an empty sealed_secret for a public client). scopes and
-- allowed_domains are JSON arrays of strings, group_map a JSON object from
-- the IdP's group to a local group ID. default_group and group_map name
-- groups without a foreign key: a provider may name a group deleted since,
-- and the Manager checks it when it uses it. version counts writes, as for
-- users and groups.
CREATE TABLE oidc_providers (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    preset                TEXT NOT NULL DEFAULT '',
    issuer                TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    key_id                TEXT NOT NULL DEFAULT '',
    sealed_secret         BLOB NOT NULL DEFAULT X'',
    scopes                TEXT NOT NULL DEFAULT '[]',
    enabled               INTEGER NOT NULL DEFAULT 0,
    link_by_email         INTEGER NOT NULL DEFAULT 0,
    provisioning          INTEGER NOT NULL DEFAULT 0,
    allowed_domains       TEXT NOT NULL DEFAULT '[]',
    default_group         TEXT NOT NULL DEFAULT '',
    group_claim           TEXT NOT NULL DEFAULT '',
    group_map             TEXT NOT NULL DEFAULT '{}',
    require_second_factor INTEGER NOT NULL DEFAULT 0,
    satisfies_two_factor  INTEGER NOT NULL DEFAULT 0,
    version               INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- An account at a provider, keyed by the provider's issuer and the subject
-- it gives the account (never by email), linked to one local user. It goes
-- with its user and with the provider it was linked through.
CREATE TABLE oidc_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    provider_id   TEXT NOT NULL REFERENCES oidc_providers (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT NOT NULL DEFAULT '', -- as the provider gave it last
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER, -- NULL until the first login after linking
    PRIMARY KEY (issuer, subject)
);

-- A user's identities, oldest first; also the cascade from users.
CREATE INDEX oidc_identities_user ON oidc_identities (user_id, created_at);
-- The cascade from providers.
CREATE INDEX oidc_identities_provider ON oidc_identities (provider_id);

-- A login begun at a provider, kept until its callback. Only the keyed
-- hash of the key the client holds is stored, as for challenges and
-- passkey ceremonies; taking a flow is one DELETE ... RETURNING of
-- key_hash. provider_id is no foreign key: the flow is checked against the
-- provider when it is taken, and expires and is pruned on its own.
-- link_user is set when a signed-in user links a provider, and goes with
-- that user.
CREATE TABLE oidc_flows (
    id          TEXT PRIMARY KEY,
    key_hash    BLOB NOT NULL UNIQUE,
    provider_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    return_to   TEXT NOT NULL DEFAULT '',
    link_user   TEXT REFERENCES users (id) ON DELETE CASCADE, -- NULL for a login
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- The cascade from users, and DeleteExpired.
CREATE INDEX oidc_flows_link_user ON oidc_flows (link_user);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);
