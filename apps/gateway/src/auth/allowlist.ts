import { BlockList, isIPv4 } from "node:net";
import type { Cidr } from "@usage/core";

export type IpCheck = (ip: string) => boolean;

/** True when `ip` is inside one of the CIDRs; an IPv4-mapped IPv6 address counts as IPv4. */
export const createAllowlist = (cidrs: readonly Cidr[]): IpCheck => {
  const list = new BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return (ip) => {
    const mapped = ip.toLowerCase().startsWith("::ffff:") ? ip.slice(7) : undefined;
    if (mapped !== undefined && isIPv4(mapped)) return list.check(mapped, "ipv4");
    return list.check(ip, isIPv4(ip) ? "ipv4" : "ipv6");
  };
};
