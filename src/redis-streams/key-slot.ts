/** Number of hash slots of a Redis Cluster. */
const SLOTS = 16_384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]) & 0xffff;
  return crc;
}

/**
 * The Cluster slot of a key, as Redis computes it (`CLUSTER KEYSLOT`): only the part inside the
 * first non-empty `{...}` counts, so `{alerts}` and `{alerts}:dlq` share a slot.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

/** The keys that are not in the slot of the first one: what a Lua script on Cluster cannot touch. */
export function keysOutsideFirstSlot(keys: readonly string[]): string[] {
  if (keys.length === 0) return [];
  const slot = keySlot(keys[0]);
  return keys.filter((key) => keySlot(key) !== slot);
}
