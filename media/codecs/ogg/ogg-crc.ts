/**
 * The Ogg page checksum (RFC 3533 section 6, libogg framing.c): CRC-32 with generator
 * polynomial 0x04C11DB7, processed most significant bit first (not reflected), initial value 0
 * and no final XOR. This is NOT the zlib/PNG CRC-32 (which is reflected and inverted), so
 * `zlib.crc32` cannot be used. The checksum is computed over the whole page with its CRC field
 * set to zero.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** Continues a CRC over `bytes` (start with crc = 0). */
export function oggCrc32(bytes: Uint8Array, crc = 0): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c = ((c << 8) ^ TABLE[((c >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  }
  return c;
}
