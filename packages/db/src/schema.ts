import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

export interface ClientsTable {
  client_id: string;
  name: string;
  email_ciphertext: Buffer;
  email_digest: Buffer;
  /** 0 blocks every hit; null means the default (RATE_LIMIT_PER_HOUR). */
  rate_limit_per_hour: number | null;
  created_at: Generated<Date>;
  revoked_at: Date | null;
  /** Set on every change, so a gateway can find the clients it must forget. */
  updated_at: Generated<Date>;
}

/** A client's API keys as digests: the current one (expires_at null) and any in their grace period. */
export interface ClientKeysTable {
  client_id: string;
  key_digest: Buffer;
  created_at: Generated<Date>;
  expires_at: Date | null;
}

export interface HitsTable {
  client_id: string;
  id: string;
  ts: Date;
  received_at: Date;
  ip: string;
  status: number | null;
  method: string | null;
  endpoint: string;
}

/** `day` is read back as the `YYYY-MM-DD` string (see the date parser in db.ts). */
export interface UsageDailyTable {
  client_id: string;
  day: ColumnType<string, string, string>;
  total: number;
}

export interface UsageHourlyTable {
  client_id: string;
  hour: Date;
  total: number;
}

export type ExportStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

/** One export of raw hits (migration 0003). `owner` is the creator: a client id or "admin". */
export interface ExportsTable {
  export_id: string;
  owner: string;
  client_id: string | null;
  range_from: Date;
  range_to: Date;
  status: Generated<ExportStatus>;
  /** bigint columns: read back as numbers (see the int8 parser in db.ts). */
  total: number | null;
  processed: Generated<number>;
  bytes: Generated<number>;
  error: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
  expires_at: Date | null;
}

/** A committed piece of an export's CSV (rows only; the header is the download's). */
export interface ExportChunksTable {
  export_id: string;
  seq: number;
  rows: number;
  last_ts: Date;
  last_client_id: string;
  last_id: string;
  data: Buffer;
}

export interface Database {
  exports: ExportsTable;
  export_chunks: ExportChunksTable;
  clients: ClientsTable;
  client_keys: ClientKeysTable;
  hits: HitsTable;
  usage_daily: UsageDailyTable;
  usage_hourly: UsageHourlyTable;
  rejected_hits: RejectedHitsTable;
}

export type Client = Selectable<ClientsTable>;
export type NewClient = Insertable<ClientsTable>;
export type ClientKey = Selectable<ClientKeysTable>;
export type Hit = Selectable<HitsTable>;
export type Export = Selectable<ExportsTable>;

export interface RejectedHitsTable {
  rejected_at: Generated<Date>;
  reason: string;
  hit: unknown;
}
