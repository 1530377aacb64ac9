import pg from "pg";
import { withDefaultUser } from "./db.ts";

/**
 * Creates the database named in `url` when it does not exist yet (first run on a fresh
 * machine), connecting to the server's `postgres` database to do it.
 */
export const ensureDatabase = async (url: string): Promise<boolean> => {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === "") return false;
  const admin = new URL(withDefaultUser(url));
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount !== 0) return false;
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return true;
  } catch (error) {
    // Another process created it between the check and the CREATE.
    if ((error as { code?: string }).code === "42P04") return false;
    throw error;
  } finally {
    await client.end();
  }
};
