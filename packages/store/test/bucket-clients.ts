import { randomUUID } from "node:crypto";
import { bucketOf } from "../src/buckets.ts";

/** A new client id whose bucket is `bucket`: random ids drawn until one lands there. */
export const clientInBucket = (bucket: number): string => {
  for (;;) {
    const id = randomUUID();
    if (bucketOf(id) === bucket) return id;
  }
};

/** `n` new client ids, all in one bucket, so a single script call may cover them on a cluster too. */
export const clientsInOneBucket = (n: number, bucket = bucketOf(randomUUID())): string[] =>
  Array.from({ length: n }, () => clientInBucket(bucket));
