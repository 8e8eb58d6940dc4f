// cluster-key-slot (the slot function ioredis itself routes Cluster commands with) ships no types.
declare module 'cluster-key-slot' {
  /** The Cluster slot of a key, as `CLUSTER KEYSLOT` computes it (hash tags included). */
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The common slot of the keys, or -1 when they are not all in one slot. */
    function generateMulti(keys: ReadonlyArray<string | Buffer>): number;
  }
  export = calculateSlot;
}
