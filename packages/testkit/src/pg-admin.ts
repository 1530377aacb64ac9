import { withDefaultUser } from "@usage/db";
import pg from "pg";

/** Runs one statement on the maintenance database (CREATE/DROP DATABASE cannot run in a pool transaction). */
export const adminQuery = async (url: string, statement: string): Promise<void> => {
  const admin = new URL(withDefaultUser(url));
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
};
