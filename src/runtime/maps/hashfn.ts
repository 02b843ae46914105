// The hash function of hash maps, chosen to be a few lines in WebAssembly:
//
//   h = seed ^ len
//   for each 4-byte little-endian word w of the key (the last one zero-padded):
//     h = imul(h ^ w, 0x9E3779B1); h ^= h >>> 15
//   h ^= h >>> 16; h = imul(h, 0x85EBCA6B); h ^= h >>> 13
//   h = imul(h, 0xC2B2AE35); h ^= h >>> 16          (murmur3's finaliser)
//
// All arithmetic is on unsigned 32-bit integers (imul = low 32 bits of the
// product). The bucket of a key is h & mask.

/** Hash of bytes[off, off+len). Returns an unsigned 32-bit integer. */
export function mapHash(bytes: Uint8Array, off: number, len: number, seed: number): number {
  let h = (seed ^ len) | 0;
  let i = 0;
  const end4 = len & ~3;
  for (; i < end4; i += 4) {
    const p = off + i;
    const w = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  if (i < len) {
    let w = 0;
    for (let j = 0; i + j < len; j++) w |= bytes[off + i + j]! << (8 * j);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
