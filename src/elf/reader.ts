// Bounds-checked little-endian reads over a byte range. Every out-of-range
// read throws an ElfError naming the section and the offset, so malformed
// input never surfaces as a RangeError or a silently wrong value.

import { ElfError } from '../errors.js';

export class ByteReader {
  private readonly dv: DataView;
  readonly bytes: Uint8Array;
  private strCache?: Map<number, string>;
  constructor(
    bytes: Uint8Array,
    /** Section (or structure) name used in errors. */
    readonly section: string,
  ) {
    // A plain view: subarrays of a Node Buffer are Buffers, and slower.
    this.bytes = plain(bytes);
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  private check(off: number, n: number, what: string): void {
    if (!Number.isInteger(off) || off < 0 || off + n > this.bytes.length) {
      throw new ElfError('ELF_TRUNCATED', `${what} at offset ${off} needs ${n} bytes, only ${Math.max(0, this.bytes.length - Math.max(0, off))} left`, this.section, off);
    }
  }

  u8(off: number, what = 'u8'): number {
    this.check(off, 1, what);
    return this.bytes[off]!;
  }
  u16(off: number, what = 'u16'): number {
    this.check(off, 2, what);
    return this.dv.getUint16(off, true);
  }
  u32(off: number, what = 'u32'): number {
    this.check(off, 4, what);
    return this.dv.getUint32(off, true);
  }
  i32(off: number, what = 'i32'): number {
    this.check(off, 4, what);
    return this.dv.getInt32(off, true);
  }
  u64(off: number, what = 'u64'): bigint {
    this.check(off, 8, what);
    return this.dv.getBigUint64(off, true);
  }
  /** A u64 that must fit a JS number (offsets, sizes); larger is an ElfError. */
  u64n(off: number, what = 'u64'): number {
    const v = this.u64(off, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ElfError('ELF_RANGE', `${what} ${v} is too large`, this.section, off);
    }
    return Number(v);
  }
  /** A sub-range (no copy). */
  slice(off: number, len: number, what = 'range'): Uint8Array {
    this.check(off, len, what);
    return this.bytes.subarray(off, off + len);
  }
  /** A NUL-terminated string starting at `off` (UTF-8). */
  cstr(off: number, what = 'string'): string {
    const hit = this.strCache?.get(off);
    if (hit !== undefined) return hit;
    if (!Number.isInteger(off) || off < 0 || off >= this.bytes.length) {
      throw new ElfError('ELF_RANGE', `${what} offset ${off} is outside the string table (${this.bytes.length} bytes)`, this.section, off);
    }
    const b = this.bytes;
    let end = off, ascii = true;
    for (; end < b.length; end++) {
      const c = b[end]!;
      if (c === 0) break;
      if (c > 0x7f) ascii = false;
    }
    const s = end >= b.length ? '' : ascii && end - off < 4096
      ? String.fromCharCode.apply(null, b.subarray(off, end) as unknown as number[])
      : utf8(b.subarray(off, end));
    if (end >= b.length) throw new ElfError('ELF_TRUNCATED', `${what} at offset ${off} is not NUL-terminated`, this.section, off);
    (this.strCache ??= new Map()).set(off, s);
    return s;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** The same bytes as a plain Uint8Array (not a Buffer subclass). */
export function plain(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
export function utf8(b: Uint8Array): string {
  // Fast path for ASCII, the common case for symbol and type names.
  let ascii = true;
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) { ascii = false; break; }
  if (ascii && b.length < 256) return String.fromCharCode(...b);
  return decoder.decode(b);
}

/** Lower-case hex of bytes (JSON form of byte arrays). */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string, what = 'hex'): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new ElfError('ELF_JSON', `${what} is not an even-length hex string`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
