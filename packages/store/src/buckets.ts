import { crc32 } from "node:zlib";

/**
 * The number of counting buckets. A bucket is the unit Redis Cluster places: all of a
 * bucket's keys share one hash tag, so one slot. 128 because:
 * - balance: buckets land on primaries at random, so with P primaries a primary's share of
 *   the buckets varies by about √((P − 1)/B) of its mean (one standard deviation: 12 % with 3
 *   primaries, where 64 buckets give 18 %), and B caps the primaries that can share the work;
 * - cost: a cluster turn makes one script call per bucket it touches (at most B), and a global
 *   read (the top list, the admin listing, their cache version) reads every bucket (B GETs
 *   or one MGET, B rank ranges), so a larger B makes global reads dearer for little balance.
 * Changing it moves every client to another bucket: a new layout, not a setting (see
 * docs/scaling.md).
 */
export const BUCKETS = 128;

/**
 * A client's bucket: CRC-32 (IEEE, as zlib, Go's hash/crc32 and Python's zlib.crc32 compute
 * it) of its id, mod BUCKETS. Stable across processes, versions and languages, so any tool
 * finds a client's keys. Ids are the lower-case UUIDs Postgres writes.
 */
export const bucketOf = (clientId: string): number => crc32(clientId) % BUCKETS;

/** Every bucket number, 0 to BUCKETS − 1. */
export const ALL_BUCKETS: readonly number[] = Array.from({ length: BUCKETS }, (_, bucket) => bucket);
