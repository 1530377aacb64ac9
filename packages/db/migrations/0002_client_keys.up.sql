-- API keys in a table of their own, so a client can hold a new key and, for a grace period
-- after a rotation, its previous one. `expires_at` is null for the current key (exactly one
-- per client) and set on a previous key: it works while `expires_at > now()`.
CREATE TABLE client_keys (
  client_id  uuid        NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  key_digest bytea       NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);
CREATE UNIQUE INDEX client_keys_current ON client_keys (client_id) WHERE expires_at IS NULL;
CREATE INDEX client_keys_client ON client_keys (client_id);

-- Every existing key becomes its client's current key, issued when the client was.
INSERT INTO client_keys (client_id, key_digest, created_at, expires_at)
SELECT client_id, api_key_digest, created_at, NULL FROM clients;
ALTER TABLE clients DROP COLUMN api_key_digest;

-- 0 is a valid quota now: it blocks every hit.
ALTER TABLE clients DROP CONSTRAINT clients_rate_limit_per_hour_check;
ALTER TABLE clients ADD CONSTRAINT clients_rate_limit_per_hour_check CHECK (rate_limit_per_hour >= 0);

-- Set on every change (name, quota, key, revocation): gateways re-read the clients changed
-- since their last look, in case a pub/sub invalidation was lost.
ALTER TABLE clients ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE clients SET updated_at = created_at;
CREATE INDEX clients_updated_at ON clients (updated_at);

-- The admin listing: newest first, keyset-paged on (created_at, client_id); `q` as a name prefix.
CREATE INDEX clients_created_at ON clients (created_at DESC, client_id DESC);
CREATE INDEX clients_name_prefix ON clients (lower(name) text_pattern_ops);
