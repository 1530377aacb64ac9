-- Exports of raw hits as CSV (the contract's "Exports"): one row per export, its file in
-- chunks beside it. A chunk is committed with the key of its last row, so an export whose
-- worker died resumes after the last committed chunk: no row missing, none repeated.
CREATE TABLE exports (
  export_id   uuid        PRIMARY KEY,
  -- Who asked: a client's id, or 'admin'. At most 3 unfinished exports per owner.
  owner       text        NOT NULL,
  -- Whose hits: one client, or null for every client (admin only).
  client_id   uuid,
  range_from  timestamptz NOT NULL,
  range_to    timestamptz NOT NULL,
  status      text        NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  total       bigint      CHECK (total >= 0),
  processed   bigint      NOT NULL DEFAULT 0 CHECK (processed >= 0),
  bytes       bigint      NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz,
  -- Set when the file is complete; after it the file is gone (410).
  expires_at  timestamptz,
  CHECK (range_from < range_to)
);
CREATE INDEX exports_owner_unfinished ON exports (owner) WHERE status IN ('queued', 'running');
CREATE INDEX exports_expires_at ON exports (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE export_chunks (
  export_id      uuid    NOT NULL REFERENCES exports (export_id) ON DELETE CASCADE,
  seq            integer NOT NULL CHECK (seq >= 0),
  rows           integer NOT NULL CHECK (rows > 0),
  -- The (ts, client_id, id) of the chunk's last row: the export's order, and where it resumes.
  last_ts        timestamptz NOT NULL,
  last_client_id uuid        NOT NULL,
  last_id        uuid        NOT NULL,
  data           bytea       NOT NULL,
  PRIMARY KEY (export_id, seq)
);
-- CSV chunks are written once and read once: compressing them costs more CPU than the disk saves.
ALTER TABLE export_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
