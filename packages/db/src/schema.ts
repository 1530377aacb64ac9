import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

export interface ClientsTable {
  client_id: string;
  name: string;
  email_ciphertext: Buffer;
  email_digest: Buffer;
  api_key_digest: Buffer;
  rate_limit_per_hour: number | null;
  created_at: Generated<Date>;
  revoked_at: Date | null;
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

export interface Database {
  clients: ClientsTable;
  hits: HitsTable;
  usage_daily: UsageDailyTable;
  usage_hourly: UsageHourlyTable;
  rejected_hits: RejectedHitsTable;
}

export type Client = Selectable<ClientsTable>;
export type NewClient = Insertable<ClientsTable>;
export type Hit = Selectable<HitsTable>;

export interface RejectedHitsTable {
  rejected_at: Generated<Date>;
  reason: string;
  hit: unknown;
}
