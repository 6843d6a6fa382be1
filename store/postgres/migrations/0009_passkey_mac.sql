-- 0009: passkey MACs, as store/sqlite's 0009: each passkey carries a MAC
-- under the host's secret key (package auth: an HMAC over the passkey ID,
-- the user ID, the credential ID, the public key and the backup-eligible
-- flag), and the ID of the key it was made under, so that a row written by
-- someone without the key (another user's ID, a public key of their own)
-- logs nobody in. key_id and mac are the caller's, kept byte for byte; a
-- key rotation rewrites them.
--
-- Rows stored before this step get key_id '' and an empty mac, which never
-- verify: no passkey could be registered through usher's Manager before
-- this step (passkeys and the MAC ship together), so such a row was not
-- made by usher and there is nothing legitimate to migrate. A constant
-- default adds the columns without rewriting the table.
ALTER TABLE passkeys ADD COLUMN key_id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE passkeys ADD COLUMN mac bytea NOT NULL DEFAULT '';
