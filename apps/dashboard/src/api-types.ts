/** The API's shapes, from the contract package (types only: nothing of it reaches the bundle). */
export type {
  Client,
  ClientDaily,
  ClientList,
  DailyUsage,
  OpsStats,
  RotatedKey,
  Token as TokenResponse,
  TopUsage,
  UsageSnapshot,
  UsageUpdated,
} from "@usage/contract";

/** GET /api/clients/{client_id}/quota. */
export interface Quota {
  client_id: string;
  limit_per_hour: number;
  used: number;
  remaining: number;
  reset_at: string;
}
