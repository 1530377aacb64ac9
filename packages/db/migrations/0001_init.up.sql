-- Clients: no plaintext secret is stored. The API key is kept as a SHA-256 digest, the
-- email as AES-256-GCM ciphertext plus a keyed digest that makes it unique case-insensitively.
CREATE TABLE clients (
  client_id           uuid PRIMARY KEY,
  name                text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  email_ciphertext    bytea       NOT NULL,
  email_digest        bytea       NOT NULL UNIQUE,
  api_key_digest      bytea       NOT NULL UNIQUE,
  rate_limit_per_hour integer     CHECK (rate_limit_per_hour > 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz
);

-- Raw hits: range partitions of one UTC week on the event time (retention drops a whole
-- week), each split by HASH(client_id) so one client's rows stay together (and so the
-- table distributes by client_id under Citus). The key holds every partition column,
-- which Postgres requires of a unique index on a partitioned table.
CREATE TABLE hits (
  client_id   uuid        NOT NULL,
  id          uuid        NOT NULL,
  ts          timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  ip          inet        NOT NULL,
  status      smallint,
  method      text,
  endpoint    text        NOT NULL,
  PRIMARY KEY (client_id, id, ts)
) PARTITION BY RANGE (ts);

-- Rollups: what every usage read is served from, never the raw hits.
CREATE TABLE usage_daily (
  client_id uuid   NOT NULL,
  day       date   NOT NULL,
  total     bigint NOT NULL CHECK (total >= 0),
  PRIMARY KEY (client_id, day)
);
CREATE INDEX usage_daily_day ON usage_daily (day) INCLUDE (client_id, total);

CREATE TABLE usage_hourly (
  client_id uuid        NOT NULL,
  hour      timestamptz NOT NULL,
  total     bigint      NOT NULL CHECK (total >= 0),
  PRIMARY KEY (client_id, hour)
);
CREATE INDEX usage_hourly_hour ON usage_hourly (hour) INCLUDE (client_id, total);

-- Hits the database refused (a data error no retry can fix), kept for inspection instead of
-- failing the whole batch they came in.
CREATE TABLE rejected_hits (
  rejected_at timestamptz NOT NULL DEFAULT now(),
  reason      text        NOT NULL,
  hit         jsonb       NOT NULL
);
