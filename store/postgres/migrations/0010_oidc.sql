-- 0010: single sign-on, as store/sqlite's 0010: the OpenID providers, the
-- identities at them linked to local users, and the pending login flows.

-- One row per provider; id is the admin's (oidc.CheckID). The client
-- secret is kept sealed by package auth under the host's key key_id, byte
-- for byte ('' and an empty sealed_secret for a public client). scopes and
-- allowed_domains hold JSON arrays of strings and group_map a JSON object
-- from the IdP's group to a local group ID, as text: the stores read and
-- write them whole, and text keeps any string, where jsonb refuses
-- "\u0000". default_group and group_map name groups without a foreign key:
-- a provider may name a group deleted since, and the Manager checks it
-- when it uses it. version counts writes, as for users and groups.
CREATE TABLE oidc_providers (
    id                    text COLLATE "C" NOT NULL,
    name                  text NOT NULL,
    preset                text NOT NULL DEFAULT '',
    issuer                text NOT NULL,
    client_id             text NOT NULL,
    key_id                text COLLATE "C" NOT NULL DEFAULT '',
    sealed_secret         bytea NOT NULL DEFAULT '',
    scopes                text NOT NULL DEFAULT '[]',
    enabled               boolean NOT NULL DEFAULT false,
    link_by_email         boolean NOT NULL DEFAULT false,
    provisioning          boolean NOT NULL DEFAULT false,
    allowed_domains       text NOT NULL DEFAULT '[]',
    default_group         text COLLATE "C" NOT NULL DEFAULT '',
    group_claim           text NOT NULL DEFAULT '',
    group_map             text NOT NULL DEFAULT '{}',
    require_second_factor boolean NOT NULL DEFAULT false,
    satisfies_two_factor  boolean NOT NULL DEFAULT false,
    version               bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT oidc_providers_pkey PRIMARY KEY (id)
);

-- An account at a provider, keyed by the provider's issuer and the subject
-- it gives the account (never by email), linked to one local user. It goes
-- with its user and with the provider it was linked through.
CREATE TABLE oidc_identities (
    issuer        text COLLATE "C" NOT NULL,
    subject       text COLLATE "C" NOT NULL,
    provider_id   text COLLATE "C" NOT NULL,
    user_id       text COLLATE "C" NOT NULL,
    email         text NOT NULL DEFAULT '', -- as the provider gave it last
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz, -- NULL until the first login after linking
    CONSTRAINT oidc_identities_pkey PRIMARY KEY (issuer, subject),
    CONSTRAINT oidc_identities_provider_fk FOREIGN KEY (provider_id) REFERENCES oidc_providers (id) ON DELETE CASCADE,
    CONSTRAINT oidc_identities_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
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
    id          text COLLATE "C" NOT NULL,
    key_hash    bytea NOT NULL,
    provider_id text COLLATE "C" NOT NULL,
    state       text NOT NULL,
    nonce       text NOT NULL,
    verifier    text NOT NULL,
    return_to   text NOT NULL DEFAULT '',
    link_user   text COLLATE "C", -- NULL for a login
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT oidc_flows_pkey PRIMARY KEY (id),
    CONSTRAINT oidc_flows_key_hash_unique UNIQUE (key_hash),
    CONSTRAINT oidc_flows_link_user_fk FOREIGN KEY (link_user) REFERENCES users (id) ON DELETE CASCADE
);

-- The cascade from users, and DeleteExpired.
CREATE INDEX oidc_flows_link_user ON oidc_flows (link_user);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);
