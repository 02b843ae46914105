// pcapng: a sequence of blocks, each `type(4) total_length(4) body
// total_length(4)`, 32-bit aligned, in the byte order of its section (set by
// the byte-order magic of the section header block). Block and option numbers
// as documented by the pcapng specification (draft-ietf-opsawg-pcapng).
//
//   SHB 0x0A0D0D0A  byte-order magic 1A2B3C4D, version 1.x, section length, options
//   IDB 1           link type(2) reserved(2) snaplen(4) options
//   OPB 2 (obsolete) interface(2) drops(2) ts high(4) ts low(4) caplen(4) len(4) data options
//   SPB 3           original length(4) data            (interface 0, no timestamp)
//   EPB 6           interface(4) ts high(4) ts low(4) caplen(4) len(4) data options
//   anything else (name resolution 4, statistics 5, decryption secrets 10,
//   custom 0xBAD / 0x40000BAD, ...) is skipped without being held in memory.

import { PcapError } from '../errors.js';
import { type ByteQueue, rd16, rd32 } from './bytequeue.js';
import type { Decoder, DecoderOptions } from './pcap.js';
import {
  type CaptureInfo, type InterfaceInfo, type PacketInput, type PacketRecord, MAX_CAPLEN,
} from './record.js';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 1;
export const BT_OPB = 2;
export const BT_SPB = 3;
export const BT_NRB = 4;
export const BT_ISB = 5;
export const BT_EPB = 6;
export const BT_DSB = 10;
export const BT_CUSTOM = 0xbad;
export const BT_CUSTOM_NOCOPY = 0x40000bad;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const OPT_SHB_HARDWARE = 2;
export const OPT_SHB_OS = 3;
export const OPT_SHB_USERAPPL = 4;
export const OPT_IF_NAME = 2;
export const OPT_IF_DESCRIPTION = 3;
export const OPT_IF_SPEED = 8;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_FILTER = 11;
export const OPT_IF_OS = 12;
export const OPT_IF_FCSLEN = 13;
export const OPT_IF_TSOFFSET = 14;
export const OPT_EPB_FLAGS = 2;

/** Largest block the reader holds in memory (blocks it does not interpret are skipped whatever their size). */
export const MAX_BLOCK_LEN = 1 << 20;

const NS_PER_S = 1_000_000_000n;
const TWO32 = 4294967296;
const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

type TsConv = (hi: number, lo: number) => bigint;

/** Nanoseconds from a pcapng timestamp in units of `tsresol`, plus `offsetSec` seconds. */
export function makeTsConverter(tsresol: number, offsetSec = 0n): TsConv {
  const off = offsetSec * NS_PER_S;
  const n = tsresol & 0x7f;
  let f: TsConv;
  if (tsresol & 0x80) {
    const sh = BigInt(n);
    f = (hi, lo) => ((BigInt(hi) * 4294967296n + BigInt(lo)) * NS_PER_S) >> sh;
  } else if (n === 9) {
    // The high word changes every ~4.3 s: keep its value in nanoseconds.
    let lastHi = -1;
    let base = 0n;
    f = (hi, lo) => {
      if (hi !== lastHi) { lastHi = hi; base = BigInt(hi) * 4294967296n; }
      return base + BigInt(lo);
    };
  } else if (n < 9) {
    const mul = 10n ** BigInt(9 - n);
    // units below 2^53 convert exactly through a double: one BigInt() instead of two.
    f = (hi, lo) => (hi < 0x200000 ? BigInt(hi * TWO32 + lo) : BigInt(hi) * 4294967296n + BigInt(lo)) * mul;
  } else {
    const div = 10n ** BigInt(n - 9);
    f = (hi, lo) => (BigInt(hi) * 4294967296n + BigInt(lo)) / div;
  }
  return off === 0n ? f : (hi, lo) => f(hi, lo) + off;
}

/** Timestamp units of `tsresol` from nanoseconds (truncating). */
export function nsToUnits(ts: bigint, tsresol: number): bigint {
  const n = tsresol & 0x7f;
  if (tsresol & 0x80) return (ts << BigInt(n)) / NS_PER_S;
  return n <= 9 ? ts / 10n ** BigInt(9 - n) : ts * 10n ** BigInt(n - 9);
}

interface Iface {
  info: InterfaceInfo;
  conv: TsConv;
}

const enum S { Head, Bom, Body, Skip, Trailer }

/** One option of a block: its code and a view of its value. */
export interface PcapngOption {
  readonly code: number;
  readonly value: Uint8Array;
}

/**
 * Parse an options area `b[start, end)`. Stops at opt_endofopt or the end;
 * an option running past the end is a PcapError.
 */
export function parseOptions(b: Uint8Array, start: number, end: number, le: boolean,
  record: number, blockOffset: number): PcapngOption[] {
  const out: PcapngOption[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = start;
  while (p + 4 <= end) {
    const code = dv.getUint16(p, le);
    const len = dv.getUint16(p + 2, le);
    if (code === OPT_ENDOFOPT) break;
    if (p + 4 + len > end) {
      throw new PcapError('PCAPNG_BAD_OPTION',
        `option ${code} of length ${len} runs past the end of its block`, record, blockOffset);
    }
    out.push({ code, value: b.subarray(p + 4, p + 4 + len) });
    p += 4 + ((len + 3) & ~3);
  }
  return out;
}

function str(v: Uint8Array): string {
  // Strings are not NUL-terminated in pcapng, but some writers add one.
  let n = v.length;
  while (n > 0 && v[n - 1] === 0) n--;
  return utf8.decode(v.subarray(0, n));
}

export class PcapngDecoder implements Decoder {
  records = 0;
  info: CaptureInfo | undefined;
  start = 0;
  private ifaces: Iface[] = [];
  private ifaceInfos: InterfaceInfo[] = [];
  private state = S.Head;
  private le = true;
  private type = 0;
  private len = 0;
  private lenLE = 0;
  private lenBE = 0;
  private section = -1;
  private readonly strictSnaplen: boolean;

  constructor(opts: DecoderOptions = {}) {
    this.strictSnaplen = opts.strictSnaplen ?? true;
  }

  get interfaces(): readonly InterfaceInfo[] {
    return this.ifaceInfos;
  }

  pending(): string {
    return this.state === S.Head ? 'block header' : `${blockName(this.type)} block`;
  }

  private fail(code: string, msg: string, at = this.start): never {
    throw new PcapError(code, msg, this.records, at);
  }

  next(q: ByteQueue): PacketRecord | null {
    for (;;) {
      switch (this.state) {
        case S.Head: {
          this.start = q.mark;
          const o = q.takeOffset(8);
          if (o < 0) return null;
          const h = q.src;
          if (h[o] === 0x0a && h[o + 1] === 0x0d && h[o + 2] === 0x0d && h[o + 3] === 0x0a) {
            this.type = BT_SHB;
            this.lenLE = rd32(h, o + 4, true);
            this.lenBE = rd32(h, o + 4, false);
            this.state = S.Bom;
            continue;
          }
          if (this.section < 0) {
            this.fail('PCAPNG_BAD_MAGIC', `not a pcapng file: first block type 0x${hex8(rd32(h, o, false))}`);
          }
          this.type = rd32(h, o, this.le);
          this.len = rd32(h, o + 4, this.le);
          this.checkLength();
          if (isParsed(this.type)) {
            if (this.len > MAX_BLOCK_LEN) {
              this.fail('PCAPNG_ABSURD_LENGTH', `${blockName(this.type)} block length ${this.len} exceeds ${MAX_BLOCK_LEN}`);
            }
            this.state = S.Body;
          } else {
            this.state = S.Skip;
          }
          continue;
        }
        case S.Bom: {
          const b = q.take(4);
          if (b === null) return null;
          const dv = new DataView(b.buffer, b.byteOffset, 4);
          if (dv.getUint32(0, true) === BYTE_ORDER_MAGIC) this.le = true;
          else if (dv.getUint32(0, false) === BYTE_ORDER_MAGIC) this.le = false;
          else this.fail('PCAPNG_BAD_MAGIC', `bad byte-order magic 0x${hex8(dv.getUint32(0, false))} in section header`);
          this.len = this.le ? this.lenLE : this.lenBE;
          this.checkLength();
          if (this.len > MAX_BLOCK_LEN) {
            this.fail('PCAPNG_ABSURD_LENGTH', `section header block length ${this.len} exceeds ${MAX_BLOCK_LEN}`);
          }
          this.state = S.Body;
          continue;
        }
        case S.Body: {
          // The body after type and length (for an SHB: after the byte-order magic), trailer included.
          const n = this.type === BT_SHB ? this.len - 12 : this.len - 8;
          const o = q.takeOffset(n);
          if (o < 0) return null;
          this.state = S.Head;
          const src = q.src;
          const trailer = rd32(src, o + n - 4, this.le);
          if (trailer !== this.len) {
            this.fail('PCAPNG_BLOCK_LENGTH_MISMATCH',
              `${blockName(this.type)} block: trailing length ${trailer} differs from leading length ${this.len}`);
          }
          const rec = this.type === BT_EPB || this.type === BT_OPB ? this.packet(src, o, n - 4)
            : this.block(src.subarray(o, o + n), n - 4);
          if (rec !== null) return rec;
          continue;
        }
        case S.Skip:
          if (!q.skip(this.len - 12)) return null;
          this.state = S.Trailer;
          continue;
        case S.Trailer: {
          const o = q.takeOffset(4);
          if (o < 0) return null;
          this.state = S.Head;
          const t = rd32(q.src, o, this.le);
          if (t !== this.len) {
            this.fail('PCAPNG_BLOCK_LENGTH_MISMATCH',
              `${blockName(this.type)} block: trailing length ${t} differs from leading length ${this.len}`);
          }
          continue;
        }
      }
    }
  }

  private checkLength(): void {
    const min = this.type === BT_SHB ? 28 : this.type === BT_IDB ? 20 : this.type === BT_EPB || this.type === BT_OPB ? 32
      : this.type === BT_SPB ? 16 : 12;
    if (this.len < min || this.len % 4 !== 0) {
      this.fail('PCAPNG_BLOCK_LENGTH',
        `${blockName(this.type)} block length ${this.len} is ${this.len % 4 ? 'not a multiple of 4' : `below the minimum ${min}`}`);
    }
  }

  /** An enhanced (or obsolete) packet block whose body is src[o, o + end) (trailer excluded). */
  private packet(src: Uint8Array, o: number, end: number): PacketRecord {
    const le = this.le;
    const epb = this.type === BT_EPB;
    const id = epb ? rd32(src, o, le) : rd16(src, o, le);
    const iface = this.ifaces[id];
    if (iface === undefined) {
      this.fail('PCAPNG_UNKNOWN_INTERFACE',
        `packet on interface ${id}, but the section declares ${this.ifaces.length} interface(s)`);
    }
    const caplen = rd32(src, o + 12, le);
    const origLen = rd32(src, o + 16, le);
    if (caplen > MAX_CAPLEN) {
      this.fail('PCAPNG_ABSURD_LENGTH', `captured length ${caplen} exceeds the maximum of ${MAX_CAPLEN}`);
    }
    const dataEnd = 20 + ((caplen + 3) & ~3);
    if (dataEnd > end) {
      this.fail('PCAPNG_BLOCK_LENGTH', `captured length ${caplen} does not fit in a block of length ${this.len}`);
    }
    const snap = iface.info.snaplen;
    if (this.strictSnaplen && snap !== 0 && caplen > snap) {
      this.fail('PCAPNG_CAPLEN_EXCEEDS_SNAPLEN', `captured length ${caplen} exceeds interface ${id}'s snaplen ${snap}`);
    }
    const ts = iface.conv(rd32(src, o + 4, le), rd32(src, o + 8, le));
    const data = src.subarray(o + 20, o + 20 + caplen);
    const linkType = iface.info.linkType;
    const rec = dataEnd < end
      ? this.withOptions({ data, ts, origLen, caplen, linkType, interfaceId: id }, src.subarray(o, o + end), dataEnd, end)
      : { data, ts, origLen, caplen, linkType, interfaceId: id };
    this.records++;
    return rec;
  }

  /** Interpret a non-packet block whose body (after type and length) is `b`; options end at `end`. */
  private block(b: Uint8Array, end: number): PacketRecord | null {
    const le = this.le;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (this.type) {
      case BT_SPB: {
        const iface = this.ifaces[0];
        if (iface === undefined) {
          this.fail('PCAPNG_UNKNOWN_INTERFACE', 'simple packet block, but the section declares no interface');
        }
        const origLen = dv.getUint32(0, le);
        const snap = iface.info.snaplen;
        const caplen = Math.min(origLen, snap === 0 ? Infinity : snap, end - 4, MAX_CAPLEN);
        this.records++;
        return { data: b.subarray(4, 4 + caplen), ts: 0n, origLen, caplen, linkType: iface.info.linkType, interfaceId: 0 };
      }
      case BT_IDB: {
        const linkType = dv.getUint16(0, le);
        const snaplen = dv.getUint32(4, le);
        let tsresol = 6;
        let tsOffset = 0n;
        const extra: { name?: string; description?: string; filter?: string; os?: string; fcsLen?: number } = {};
        for (const o of parseOptions(b, 8, end, le, this.records, this.start)) {
          const v = o.value;
          switch (o.code) {
            case OPT_IF_NAME: extra.name = str(v); break;
            case OPT_IF_DESCRIPTION: extra.description = str(v); break;
            case OPT_IF_OS: extra.os = str(v); break;
            case OPT_IF_FILTER: if (v.length > 0 && v[0] === 0) extra.filter = str(v.subarray(1)); break;
            case OPT_IF_TSRESOL:
              if (v.length !== 1) this.fail('PCAPNG_BAD_OPTION', `if_tsresol has length ${v.length}, not 1`);
              tsresol = v[0]!;
              break;
            case OPT_IF_FCSLEN: if (v.length === 1) extra.fcsLen = v[0]!; break;
            case OPT_IF_TSOFFSET:
              if (v.length !== 8) this.fail('PCAPNG_BAD_OPTION', `if_tsoffset has length ${v.length}, not 8`);
              tsOffset = new DataView(v.buffer, v.byteOffset, 8).getBigInt64(0, le);
              break;
          }
        }
        if (tsresol & 0x80 ? (tsresol & 0x7f) > 64 : tsresol > 30) {
          this.fail('PCAPNG_BAD_OPTION', `if_tsresol ${tsresol} is finer than 2^-64 s`);
        }
        const info: InterfaceInfo = { linkType, snaplen, tsresol, tsOffset, ...extra };
        this.ifaces.push({ info, conv: makeTsConverter(tsresol, tsOffset) });
        this.ifaceInfos = this.ifaces.map((i) => i.info);
        return null;
      }
      case BT_SHB: {
        const major = dv.getUint16(0, le);
        const minor = dv.getUint16(2, le);
        if (major !== 1) this.fail('PCAPNG_VERSION', `unsupported pcapng version ${major}.${minor}`);
        const extra: { hardware?: string; os?: string; userAppl?: string; comment?: string } = {};
        for (const o of parseOptions(b, 12, end, le, this.records, this.start)) {
          switch (o.code) {
            case OPT_COMMENT: extra.comment = str(o.value); break;
            case OPT_SHB_HARDWARE: extra.hardware = str(o.value); break;
            case OPT_SHB_OS: extra.os = str(o.value); break;
            case OPT_SHB_USERAPPL: extra.userAppl = str(o.value); break;
          }
        }
        this.section++;
        this.info = { format: 'pcapng', littleEndian: le, versionMajor: major, versionMinor: minor, section: this.section, ...extra };
        this.ifaces = [];
        this.ifaceInfos = [];
        return null;
      }
    }
    return null;
  }

  private withOptions(r: PacketRecord, b: Uint8Array, start: number, end: number): PacketRecord {
    let flags: number | undefined;
    let comment: string | undefined;
    for (const o of parseOptions(b, start, end, this.le, this.records, this.start)) {
      if (o.code === OPT_EPB_FLAGS && o.value.length === 4) {
        flags = new DataView(o.value.buffer, o.value.byteOffset, 4).getUint32(0, this.le);
      } else if (o.code === OPT_COMMENT) {
        comment = comment === undefined ? str(o.value) : `${comment}\n${str(o.value)}`;
      }
    }
    if (flags === undefined && comment === undefined) return r;
    return { ...r, ...(flags !== undefined ? { flags } : {}), ...(comment !== undefined ? { comment } : {}) };
  }
}

function isParsed(type: number): boolean {
  return type === BT_EPB || type === BT_IDB || type === BT_SPB || type === BT_OPB;
}

/** A readable name for a block type, for messages. */
export function blockName(type: number): string {
  switch (type) {
    case BT_SHB: return 'section header';
    case BT_IDB: return 'interface description';
    case BT_OPB: return 'packet (obsolete)';
    case BT_SPB: return 'simple packet';
    case BT_NRB: return 'name resolution';
    case BT_ISB: return 'interface statistics';
    case BT_EPB: return 'enhanced packet';
    case BT_DSB: return 'decryption secrets';
    case BT_CUSTOM: case BT_CUSTOM_NOCOPY: return 'custom';
    default: return `type 0x${hex8(type)}`;
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------- writer

export interface PcapngInterfaceSpec {
  readonly linkType: number;
  /** 0 = no limit (default). Longer packets are cut to it, origLen kept. */
  readonly snaplen?: number;
  readonly name?: string;
  readonly description?: string;
}

export interface PcapngWriterOptions {
  /** Byte order of the section; default little-endian. */
  readonly littleEndian?: boolean;
  /**
   * Timestamp resolution of every interface: 'us' (if_tsresol 6), 'ns' (9, the
   * default: lossless), or a raw if_tsresol byte (0x80 | n = 2^-n s).
   */
  readonly resolution?: 'us' | 'ns' | number;
  /**
   * Interfaces declared up front: a record's interfaceId indexes this list.
   * Without it, an interface block is written for each new (interfaceId,
   * linkType) pair as records arrive, in order of first appearance.
   */
  readonly interfaces?: readonly PcapngInterfaceSpec[];
  /** shb_userappl; default "tsbpf". */
  readonly userAppl?: string;
  readonly hardware?: string;
  readonly os?: string;
  readonly comment?: string;
}

function optLen(len: number): number {
  return 4 + ((len + 3) & ~3);
}

/** Encode options (code, bytes) followed by opt_endofopt; empty list = nothing. */
function encodeOptions(opts: readonly [number, Uint8Array][], le: boolean): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  let n = 4;
  for (const [, v] of opts) n += optLen(v.length);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const [code, v] of opts) {
    dv.setUint16(p, code, le);
    dv.setUint16(p + 2, v.length, le);
    out.set(v, p + 4);
    p += optLen(v.length);
  }
  return out; // the final 4 zero bytes are opt_endofopt
}

function block(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const len = 12 + body.length;
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, le);
  dv.setUint32(4, len, le);
  out.set(body, 8);
  dv.setUint32(len - 4, len, le);
  return out;
}

/**
 * Streaming pcapng writer (one section). `write` returns the bytes of one
 * enhanced packet block, preceded by the section header and any interface
 * description block it needs; `end` returns the section header (and declared
 * interfaces) if nothing was written yet.
 */
export class PcapngWriter {
  readonly littleEndian: boolean;
  readonly tsresol: number;
  private started = false;
  private readonly declared: readonly PcapngInterfaceSpec[] | undefined;
  private readonly auto = new Map<number, number>();
  private readonly snaplens: number[] = [];
  private readonly linkTypes: number[] = [];
  private count = 0;

  constructor(private readonly opts: PcapngWriterOptions = {}) {
    this.littleEndian = opts.littleEndian ?? true;
    const r = opts.resolution ?? 'ns';
    this.tsresol = r === 'ns' ? 9 : r === 'us' ? 6 : r;
    if (!Number.isInteger(this.tsresol) || this.tsresol < 0 || this.tsresol > 255 ||
      (this.tsresol & 0x80 ? (this.tsresol & 0x7f) > 63 : this.tsresol > 19)) {
      throw new PcapError('PCAPNG_WRITE_TSRESOL', `unsupported if_tsresol ${String(r)}`, 0, 0);
    }
    this.declared = opts.interfaces;
  }

  /** The section header block. */
  sectionHeader(): Uint8Array {
    const le = this.littleEndian;
    const o = this.opts;
    const opts: [number, Uint8Array][] = [];
    if (o.comment !== undefined) opts.push([OPT_COMMENT, utf8enc.encode(o.comment)]);
    if (o.hardware !== undefined) opts.push([OPT_SHB_HARDWARE, utf8enc.encode(o.hardware)]);
    if (o.os !== undefined) opts.push([OPT_SHB_OS, utf8enc.encode(o.os)]);
    opts.push([OPT_SHB_USERAPPL, utf8enc.encode(o.userAppl ?? 'tsbpf')]);
    const ob = encodeOptions(opts, le);
    const body = new Uint8Array(16 + ob.length);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, BYTE_ORDER_MAGIC, le);
    dv.setUint16(4, 1, le);
    dv.setUint16(6, 0, le);
    dv.setBigInt64(8, -1n, le); // section length not specified
    body.set(ob, 16);
    return block(BT_SHB, body, le);
  }

  /** An interface description block. */
  interfaceBlock(spec: PcapngInterfaceSpec): Uint8Array {
    const le = this.littleEndian;
    const opts: [number, Uint8Array][] = [];
    if (spec.name !== undefined) opts.push([OPT_IF_NAME, utf8enc.encode(spec.name)]);
    if (spec.description !== undefined) opts.push([OPT_IF_DESCRIPTION, utf8enc.encode(spec.description)]);
    if (this.tsresol !== 6) opts.push([OPT_IF_TSRESOL, Uint8Array.of(this.tsresol)]);
    const ob = encodeOptions(opts, le);
    const body = new Uint8Array(8 + ob.length);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, spec.linkType, le);
    dv.setUint32(4, spec.snaplen ?? 0, le);
    body.set(ob, 8);
    return block(BT_IDB, body, le);
  }

  private addInterface(spec: PcapngInterfaceSpec, parts: Uint8Array[]): number {
    const snap = spec.snaplen ?? 0;
    if (!Number.isInteger(snap) || snap < 0 || snap > 0xffffffff) {
      throw new PcapError('PCAPNG_WRITE_SNAPLEN', `bad snaplen ${snap}`, this.count, 0);
    }
    this.snaplens.push(snap);
    this.linkTypes.push(spec.linkType);
    parts.push(this.interfaceBlock(spec));
    return this.snaplens.length - 1;
  }

  /** Output interface index for `rec`, writing blocks it needs into `parts`. */
  private ifaceFor(rec: PacketInput, parts: Uint8Array[] | null): number {
    const id = rec.interfaceId ?? 0;
    if (this.declared) {
      const spec = this.declared[id];
      if (spec === undefined) {
        throw new PcapError('PCAPNG_UNKNOWN_INTERFACE',
          `record on interface ${id}, but only ${this.declared.length} interface(s) are declared`, this.count, 0);
      }
      if (rec.linkType !== undefined && rec.linkType !== spec.linkType) {
        throw new PcapError('PCAPNG_WRITE_LINKTYPE',
          `record has link type ${rec.linkType}, interface ${id} is declared with ${spec.linkType}`, this.count, 0);
      }
      return id;
    }
    const linkType = rec.linkType ?? 1;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new PcapError('PCAPNG_WRITE_LINKTYPE', `bad link type ${linkType}`, this.count, 0);
    }
    const key = id * 65536 + linkType;
    let out = this.auto.get(key);
    if (out === undefined) {
      if (parts === null) throw new Error('internal: interface not prepared');
      out = this.addInterface({ linkType }, parts);
      this.auto.set(key, out);
    }
    return out;
  }

  private dvOut: Uint8Array | null = null;
  private dv: DataView | null = null;

  private viewOf(out: Uint8Array): DataView {
    if (out !== this.dvOut || this.dv === null) {
      this.dvOut = out;
      this.dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    }
    return this.dv;
  }

  /** Bytes that must precede `rec` (section header, new interface blocks), or null. */
  prepare(rec?: PacketInput): Uint8Array | null {
    const parts: Uint8Array[] = [];
    if (!this.started) {
      this.started = true;
      parts.push(this.sectionHeader());
      if (this.declared) for (const s of this.declared) this.addInterface(s, parts);
    }
    if (rec) this.ifaceFor(rec, parts);
    if (parts.length === 0) return null;
    if (parts.length === 1) return parts[0]!;
    return concatBytes(parts);
  }

  private optionsOf(rec: PacketInput): Uint8Array | null {
    if (rec.flags === undefined && rec.comment === undefined) return null;
    const opts: [number, Uint8Array][] = [];
    if (rec.comment !== undefined) opts.push([OPT_COMMENT, utf8enc.encode(rec.comment)]);
    if (rec.flags !== undefined) {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setUint32(0, rec.flags >>> 0, this.littleEndian);
      opts.push([OPT_EPB_FLAGS, f]);
    }
    return encodeOptions(opts, this.littleEndian);
  }

  private caplenOf(rec: PacketInput, iface: number): number {
    const snap = this.snaplens[iface]!;
    return Math.min(rec.data.length, snap === 0 ? MAX_CAPLEN : snap);
  }

  /** Bytes `rec` takes (its enhanced packet block); call `prepare(rec)` first. */
  recordSize(rec: PacketInput): number {
    const caplen = this.caplenOf(rec, this.ifaceFor(rec, null));
    const o = rec.flags === undefined && rec.comment === undefined ? 0 : this.optionsOf(rec)!.length;
    return 32 + ((caplen + 3) & ~3) + o;
  }

  /** Encode `rec` as an enhanced packet block at `off` of `out`; call `prepare(rec)` first. Returns the new offset. */
  encodeInto(rec: PacketInput, out: Uint8Array, off: number): number {
    const iface = this.ifaceFor(rec, null);
    const le = this.littleEndian;
    const caplen = this.caplenOf(rec, iface);
    if (rec.data.length > MAX_CAPLEN) {
      throw new PcapError('PCAPNG_WRITE_LENGTH', `packet of ${rec.data.length} bytes exceeds ${MAX_CAPLEN}`, this.count, off);
    }
    const origLen = rec.origLen ?? rec.data.length;
    if (origLen < caplen || origLen > 0xffffffff) {
      throw new PcapError('PCAPNG_WRITE_LENGTH', `original length ${origLen} is less than the ${caplen} bytes captured`, this.count, off);
    }
    const units = nsToUnits(rec.ts ?? 0n, this.tsresol);
    if (units < 0n || units > 0xffffffffffffffffn) {
      throw new PcapError('PCAPNG_WRITE_TIMESTAMP', `timestamp ${rec.ts} ns does not fit`, this.count, off);
    }
    const opts = this.optionsOf(rec);
    const len = 32 + ((caplen + 3) & ~3) + (opts ? opts.length : 0);
    const dv = this.viewOf(out);
    dv.setUint32(off, BT_EPB, le);
    dv.setUint32(off + 4, len, le);
    dv.setUint32(off + 8, iface, le);
    dv.setUint32(off + 12, Number(units >> 32n), le);
    dv.setUint32(off + 16, Number(units & 0xffffffffn), le);
    dv.setUint32(off + 20, caplen, le);
    dv.setUint32(off + 24, origLen, le);
    out.set(caplen === rec.data.length ? rec.data : rec.data.subarray(0, caplen), off + 28);
    out.fill(0, off + 28 + caplen, off + 28 + ((caplen + 3) & ~3));
    if (opts) out.set(opts, off + 28 + ((caplen + 3) & ~3));
    dv.setUint32(off + len - 4, len, le);
    this.count++;
    return off + len;
  }

  /** One record, preceded by whatever blocks it needs. */
  write(rec: PacketInput): Uint8Array {
    const pre = this.prepare(rec);
    const p = pre ? pre.length : 0;
    const out = new Uint8Array(p + this.recordSize(rec));
    if (pre) out.set(pre);
    this.encodeInto(rec, out, p);
    return out;
  }

  /** The section header (and declared interfaces) if nothing was written yet, else an empty array. */
  end(): Uint8Array {
    return this.prepare() ?? new Uint8Array(0);
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
