import type { Db } from "@usage/db";

/**
 * An export's CSV chunks (rows only, no header), in order. A local seam: the export store
 * (packages/db) gets the same reader, and this file then gives way to it.
 */
export type ChunkSource = (exportId: string) => AsyncIterable<Buffer>;

/**
 * One chunk per query, keyset on `seq`: a download holds at most one chunk (about 256 KiB)
 * in the gateway at a time, and no transaction or cursor stays open while a slow client reads.
 */
export const postgresChunks = (db: Db): ChunkSource =>
  async function* chunks(exportId) {
    let after = -1;
    for (;;) {
      const chunk = await db
        .selectFrom("export_chunks")
        .select(["seq", "data"])
        .where("export_id", "=", exportId)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
      if (chunk === undefined) return;
      after = chunk.seq;
      yield chunk.data;
    }
  };
