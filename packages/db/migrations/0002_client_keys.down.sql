DROP INDEX clients_name_prefix;
DROP INDEX clients_created_at;
DROP INDEX clients_updated_at;
ALTER TABLE clients DROP COLUMN updated_at;

-- The old schema has no way to say "blocked": a quota of 0 becomes 1 per hour, the nearest
-- it can hold (not null, which would give the blocked client the default quota).
UPDATE clients SET rate_limit_per_hour = 1 WHERE rate_limit_per_hour = 0;
ALTER TABLE clients DROP CONSTRAINT clients_rate_limit_per_hour_check;
ALTER TABLE clients ADD CONSTRAINT clients_rate_limit_per_hour_check CHECK (rate_limit_per_hour > 0);

-- Each client keeps its current key; keys still in their grace period stop working.
ALTER TABLE clients ADD COLUMN api_key_digest bytea;
UPDATE clients c SET api_key_digest = k.key_digest FROM client_keys k WHERE k.client_id = c.client_id AND k.expires_at IS NULL;
ALTER TABLE clients ALTER COLUMN api_key_digest SET NOT NULL;
ALTER TABLE clients ADD CONSTRAINT clients_api_key_digest_key UNIQUE (api_key_digest);
DROP TABLE client_keys;
