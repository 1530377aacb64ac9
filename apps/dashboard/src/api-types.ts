/** The API's shapes, from the contract package (types only: nothing of it reaches the bundle). */
export type {
  Client,
  ClientDaily,
  ClientList,
  ClientQuota as Quota,
  DailyUsage,
  OpsStats,
  RotatedKey,
  Token as TokenResponse,
  TopUsage,
  UsageSnapshot,
  UsageUpdated,
} from "@usage/contract";
