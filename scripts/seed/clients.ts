import type { Db } from "@usage/db";
import { sql } from "kysely";

const PREFIX = "seed-client-";

/** 16 random bytes per uuid: stand-ins for ciphertext and digests, never a real email or key. */
const randomBytes = (uuids: number) => sql.raw(Array.from({ length: uuids }, () => "uuid_send(gen_random_uuid())").join(" || "));

/**
 * Makes sure clients `seed-client-1` … `seed-client-<count>` exist (the name is the seed's
 * marker, so a re-run adds hits to the same clients) and returns their ids, index i holding
 * `seed-client-<i+1>`.
 */
export const ensureSeedClients = async (db: Db, count: number): Promise<{ ids: string[]; created: number }> => {
  const created = await db.transaction().execute(async (trx) => {
    // Two seeds at once must not both add the missing names.
    await sql`SELECT pg_advisory_xact_lock(hashtext('usage-seed-clients'))`.execute(trx);
    // Each new client with one current key (a random digest: no key that anyone holds).
    const result = await sql`
      WITH added AS (
        INSERT INTO clients (client_id, name, email_ciphertext, email_digest)
        SELECT gen_random_uuid(), ${PREFIX} || n, ${randomBytes(3)}, ${randomBytes(2)}
        FROM generate_series(1, ${count}::int) AS n
        WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.name = ${PREFIX} || n)
        ON CONFLICT DO NOTHING
        RETURNING client_id, created_at
      )
      INSERT INTO client_keys (client_id, key_digest, created_at)
      SELECT client_id, ${randomBytes(2)}, created_at FROM added`.execute(trx);
    return Number(result.numAffectedRows ?? 0n);
  });
  const { rows } = await sql<{ client_id: string }>`
    SELECT DISTINCT ON (n) client_id FROM (
      SELECT client_id, substr(name, ${PREFIX.length + 1})::int AS n FROM clients WHERE name ~ ${`^${PREFIX}[0-9]{1,9}$`}
    ) AS seeded
    WHERE n BETWEEN 1 AND ${count}::int
    ORDER BY n, client_id`.execute(db);
  if (rows.length !== count) throw new Error(`expected ${count} seed clients, found ${rows.length}`);
  return { ids: rows.map((row) => row.client_id), created };
};
