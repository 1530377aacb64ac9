/** The hash slot of a key (CRC16 of its hash tag, mod 16384): the function ioredis routes with. */
declare module "cluster-key-slot" {
  const calculateSlot: (key: string) => number;
  export default calculateSlot;
}
