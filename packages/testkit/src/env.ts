/** Where the test servers are: the settings' defaults unless the environment says otherwise. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Same URL, other database. */
export const databaseUrl = (name: string, base = TEST_DATABASE_URL): string => {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
};

export const uniqueSuffix = (): string => `${Date.now().toString(36)}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
