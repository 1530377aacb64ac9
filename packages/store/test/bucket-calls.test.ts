import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { bucketCallsOf } from "../src/bucket-calls.ts";

describe("cutting work over buckets into script calls", () => {
  // Never connected: cutting is decided by the kind of connection alone.
  const node = new Redis({ lazyConnect: true });
  const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
  afterAll(() => {
    node.disconnect();
    cluster.disconnect();
  });
  const items = [
    { bucket: 3, id: "a" },
    { bucket: 7, id: "b" },
    { bucket: 3, id: "c" },
    { bucket: 9, id: "d" },
  ];
  const ids = (groups: Array<typeof items>) => groups.map((group) => group.map((item) => item.id));

  it("puts everything in one call on one node, unless a call may cover only so many buckets", () => {
    expect(ids(bucketCallsOf(node).group(items, (item) => item.bucket))).toEqual([["a", "b", "c", "d"]]);
    expect(ids(bucketCallsOf(node).group(items, (item) => item.bucket, 2))).toEqual([["a", "b", "c"], ["d"]]);
    expect(bucketCallsOf(node).group([], (item: number) => item)).toEqual([]);
  });

  it("makes one call per bucket on a cluster, each in input order", () => {
    expect(ids(bucketCallsOf(cluster).group(items, (item) => item.bucket))).toEqual([["a", "c"], ["b"], ["d"]]);
    expect(ids(bucketCallsOf(cluster).group(items, (item) => item.bucket, 2))).toEqual([["a", "c"], ["b"], ["d"]]);
  });
});
