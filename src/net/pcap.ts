// Classic libpcap format: a 24-byte file header, then per packet a 16-byte
// record header and the captured bytes. Layout and magic numbers as documented
// by the pcap file format description (draft-ietf-opsawg-pcap).
//
//   file header                           record header
//   0  magic            a1b2c3d4 (us)     0  ts seconds
//                       a1b23c4d (ns)     4  ts microseconds / nanoseconds
//   4  version major 2, minor 4           8  captured length
//   8  reserved (thiszone, sigfigs)       12 original length
//   16 snaplen                            16 data, captured length bytes
//   20 link type (low 16 bits), FCS length (bits 28-31) if bit 26 is set

import { PcapError } from '../errors.js';
import { type ByteQueue, rd32 } from './bytequeue.js';
import {
  type CaptureInfo, type InterfaceInfo, type PacketInput, type PacketRecord, MAX_CAPLEN,
} from './record.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export interface DecoderOptions {
  /** Reject records whose captured length exceeds the file's snaplen (default true). */
  readonly strictSnaplen?: boolean;
}

/** The state machine behind every capture reader. */
export interface Decoder {
  /** The next packet, null when more input is needed. Throws PcapError on damage. */
  next(q: ByteQueue): PacketRecord | null;
  /** Packets delivered so far. */
  readonly records: number;
  readonly info: CaptureInfo | undefined;
  readonly interfaces: readonly InterfaceInfo[];
  /** What is half-read, for the truncation error: e.g. "record header". */
  pending(): string;
  /** Offset of the record or block being read. */
  readonly start: number;
}

const NS_PER_S = 1_000_000_000n;

export class PcapDecoder implements Decoder {
  records = 0;
  info: CaptureInfo | undefined;
  interfaces: InterfaceInfo[] = [];
  start = 0;
  private state = 0; // 0 file header, 1 record header, 2 record data
  private le = true;
  private nanos = false;
  private snaplen = 0;
  private linkType = 0;
  private sec = 0;
  private frac = 0;
  private caplen = 0;
  private origLen = 0;
  private lastSec = -1;
  private lastSecNs = 0n;
  private readonly strictSnaplen: boolean;

  constructor(opts: DecoderOptions = {}) {
    this.strictSnaplen = opts.strictSnaplen ?? true;
  }

  pending(): string {
    return this.state === 0 ? 'file header' : this.state === 1 ? 'record header' : 'packet data';
  }

  next(q: ByteQueue): PacketRecord | null {
    for (;;) {
      if (this.state === 2) {
        const data = q.take(this.caplen);
        if (data === null) return null;
        this.state = 1;
        // Seconds as nanoseconds change rarely between records: keep the last.
        if (this.sec !== this.lastSec) {
          this.lastSec = this.sec;
          this.lastSecNs = BigInt(this.sec) * NS_PER_S;
        }
        const ts = this.lastSecNs + BigInt(this.nanos ? this.frac : this.frac * 1000);
        this.records++;
        return { data, ts, origLen: this.origLen, caplen: this.caplen, linkType: this.linkType, interfaceId: 0 };
      }
      if (this.state === 1) {
        this.start = q.mark;
        const o = q.takeOffset(PCAP_RECORD_HEADER_LEN);
        if (o < 0) return null;
        const h = q.src;
        const le = this.le;
        this.sec = rd32(h, o, le);
        this.frac = rd32(h, o + 4, le);
        this.caplen = rd32(h, o + 8, le);
        this.origLen = rd32(h, o + 12, le);
        if (this.caplen > MAX_CAPLEN) {
          throw new PcapError('PCAP_ABSURD_LENGTH',
            `captured length ${this.caplen} exceeds the maximum of ${MAX_CAPLEN}`, this.records, this.start);
        }
        if (this.strictSnaplen && this.snaplen !== 0 && this.caplen > this.snaplen) {
          throw new PcapError('PCAP_CAPLEN_EXCEEDS_SNAPLEN',
            `captured length ${this.caplen} exceeds the file's snaplen ${this.snaplen}`, this.records, this.start);
        }
        this.state = 2;
        continue;
      }
      this.start = q.mark;
      const h = q.take(PCAP_HEADER_LEN);
      if (h === null) return null;
      this.readFileHeader(h);
      this.state = 1;
    }
  }

  private readFileHeader(h: Uint8Array): void {
    const dv = new DataView(h.buffer, h.byteOffset, PCAP_HEADER_LEN);
    const magicBE = dv.getUint32(0, false);
    const magicLE = dv.getUint32(0, true);
    if (magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS) {
      this.le = true;
      this.nanos = magicLE === PCAP_MAGIC_NS;
    } else if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) {
      this.le = false;
      this.nanos = magicBE === PCAP_MAGIC_NS;
    } else {
      throw new PcapError('PCAP_BAD_MAGIC', `not a pcap file: magic 0x${hex8(magicBE)}`, 0, 0);
    }
    const le = this.le;
    const major = dv.getUint16(4, le);
    const minor = dv.getUint16(6, le);
    if (major !== 2) throw new PcapError('PCAP_VERSION', `unsupported pcap version ${major}.${minor}`, 0, 4);
    this.snaplen = dv.getUint32(16, le);
    const lt = dv.getUint32(20, le);
    this.linkType = lt & 0xffff;
    const fcsLen = lt & 0x04000000 ? (lt >>> 28) * 2 : undefined;
    this.info = { format: 'pcap', littleEndian: le, versionMajor: major, versionMinor: minor, section: 0 };
    const iface: InterfaceInfo = {
      linkType: this.linkType, snaplen: this.snaplen, tsresol: this.nanos ? 9 : 6, tsOffset: 0n,
      ...(fcsLen !== undefined ? { fcsLen } : {}),
    };
    this.interfaces = [iface];
  }
}

export interface PcapWriterOptions {
  /** LINKTYPE_* written in the file header; default: the first record's, else Ethernet (1). */
  readonly linkType?: number;
  /** Snaplen written in the header; longer packets are cut to it (origLen kept). Default 262144. */
  readonly snaplen?: number;
  /** Timestamp resolution; default 'ns' (magic a1b23c4d), so timestamps survive a round trip. */
  readonly resolution?: 'us' | 'ns';
  /** Byte order of the file; default little-endian. */
  readonly littleEndian?: boolean;
}

/**
 * Streaming classic-pcap writer. `write` returns the bytes of one record,
 * preceded by the file header on the first call; `end` returns the header if
 * nothing was written yet (an empty capture is still a valid file), else nothing.
 */
export class PcapWriter {
  /** Fixed by the option, else by the first record written (default Ethernet). */
  linkType: number;
  readonly snaplen: number;
  readonly nanos: boolean;
  readonly littleEndian: boolean;
  private started = false;
  private count = 0;
  private readonly fixedLinkType: boolean;

  constructor(opts: PcapWriterOptions = {}) {
    this.linkType = opts.linkType ?? 1;
    this.fixedLinkType = opts.linkType !== undefined;
    this.snaplen = opts.snaplen ?? MAX_CAPLEN;
    this.nanos = (opts.resolution ?? 'ns') === 'ns';
    this.littleEndian = opts.littleEndian ?? true;
    if (!Number.isInteger(this.snaplen) || this.snaplen <= 0 || this.snaplen > MAX_CAPLEN) {
      throw new PcapError('PCAP_WRITE_SNAPLEN', `snaplen ${this.snaplen} is not in 1..${MAX_CAPLEN}`, 0, 0);
    }
  }

  /** The 24-byte file header. */
  header(): Uint8Array {
    const h = new Uint8Array(PCAP_HEADER_LEN);
    const dv = new DataView(h.buffer);
    const le = this.littleEndian;
    dv.setUint32(0, this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
    dv.setUint16(4, 2, le);
    dv.setUint16(6, 4, le);
    dv.setUint32(16, this.snaplen, le);
    dv.setUint32(20, this.linkType, le);
    return h;
  }

  /** Bytes `rec` takes in the file. */
  recordSize(rec: PacketInput): number {
    return PCAP_RECORD_HEADER_LEN + Math.min(rec.data.length, this.snaplen);
  }

  /** Encode one record at `off` of `out` (which must have recordSize bytes free); returns the new offset. */
  encodeInto(rec: PacketInput, out: Uint8Array, off: number): number {
    const index = this.count;
    if (rec.linkType !== undefined && rec.linkType !== this.linkType) {
      throw new PcapError('PCAP_WRITE_LINKTYPE',
        `link type ${rec.linkType} differs from the file's ${this.linkType} (use pcapng for mixed link types)`, index, off);
    }
    const ts = rec.ts ?? 0n;
    if (ts < 0n || ts >= 0x1_0000_0000n * NS_PER_S) {
      throw new PcapError('PCAP_WRITE_TIMESTAMP', `timestamp ${ts} ns does not fit a pcap record`, index, off);
    }
    const caplen = Math.min(rec.data.length, this.snaplen);
    const origLen = rec.origLen ?? rec.data.length;
    if (origLen < caplen || origLen > 0xffffffff) {
      throw new PcapError('PCAP_WRITE_LENGTH', `original length ${origLen} is less than the ${caplen} bytes captured`, index, off);
    }
    const dv = this.viewOf(out);
    const le = this.littleEndian;
    const sec = ts / NS_PER_S;
    const ns = Number(ts - sec * NS_PER_S);
    dv.setUint32(off, Number(sec), le);
    dv.setUint32(off + 4, this.nanos ? ns : Math.floor(ns / 1000), le);
    dv.setUint32(off + 8, caplen, le);
    dv.setUint32(off + 12, origLen, le);
    out.set(caplen === rec.data.length ? rec.data : rec.data.subarray(0, caplen), off + PCAP_RECORD_HEADER_LEN);
    this.count++;
    return off + PCAP_RECORD_HEADER_LEN + caplen;
  }

  private dvOut: Uint8Array | null = null;
  private dv: DataView | null = null;

  /** A DataView of `out`, kept while the caller keeps encoding into the same array. */
  private viewOf(out: Uint8Array): DataView {
    if (out !== this.dvOut || this.dv === null) {
      this.dvOut = out;
      this.dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    }
    return this.dv;
  }

  /** Bytes that must precede `rec`: the file header before the first record, then nothing. */
  prepare(rec?: PacketInput): Uint8Array | null {
    if (this.started) return null;
    this.started = true;
    if (!this.fixedLinkType && rec?.linkType !== undefined) this.linkType = rec.linkType;
    return this.header();
  }

  /** One record, preceded by the file header on the first call. */
  write(rec: PacketInput): Uint8Array {
    const pre = this.prepare(rec);
    const p = pre ? pre.length : 0;
    const out = new Uint8Array(p + this.recordSize(rec));
    if (pre) out.set(pre);
    this.encodeInto(rec, out, p);
    return out;
  }

  /** The file header if nothing was written yet, else an empty array. */
  end(): Uint8Array {
    return this.prepare() ?? new Uint8Array(0);
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
