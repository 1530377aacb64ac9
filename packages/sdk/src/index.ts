export { UsageClient } from "./client.ts";
export { ERROR_CODES, isUsageError, UsageError, type UsageErrorCode, type UsageErrorOutcome } from "./errors.ts";
export type {
  DailyOptions,
  DailyUsage,
  DayCount,
  FlushOptions,
  FlushResult,
  Hit,
  KeyOption,
  RecordOptions,
  RecordResult,
  StreamOptions,
  TopOptions,
  TopUsage,
  UsageClientOptions,
  UsageEvent,
  UsageSnapshot,
  UsageStats,
  UsageUpdated,
} from "./types.ts";
