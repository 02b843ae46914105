// Capture readers: one push-style incremental parser (constant memory, chunks
// split anywhere) and the conveniences built on it.
//
//   const p = new CaptureParser();
//   for (const chunk of chunks) for (const rec of p.feed(chunk)) use(rec);
//   for (const rec of p.end()) use(rec);          // throws if the input was cut short
//
//   for await (const rec of readPackets(stream)) use(rec);   // Node stream, web stream, any async iterable
//
// Damage is reported in order: every packet before it is delivered first, then
// the PcapError naming the record and byte offset is thrown (from next(), the
// generator, or the async iterator), and the parser stays failed.

import { PcapError } from '../errors.js';
import { ByteQueue } from './bytequeue.js';
import { type Decoder, type DecoderOptions, PcapDecoder, PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap.js';
import { PcapngDecoder } from './pcapng.js';
import type { CaptureFormat, CaptureInfo, InterfaceInfo, PacketRecord } from './record.js';

export interface ParserOptions extends DecoderOptions {
  /** Skip detection and read as this format. */
  readonly format?: CaptureFormat;
}

/** The format of a capture from its first 4 bytes, or undefined. */
export function detectFormat(head: Uint8Array): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const le = ((head[3]! << 24) | (head[2]! << 16) | (head[1]! << 8) | head[0]!) >>> 0;
  if (be === 0x0a0d0d0a) return 'pcapng';
  if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) return 'pcap';
  return undefined;
}

/** Push-style incremental reader of pcap and pcapng, detected by magic. */
export class CaptureParser {
  private readonly q = new ByteQueue();
  private dec: Decoder | null = null;
  private head: Uint8Array[] = [];
  private headLen = 0;
  private closed = false;
  private error: PcapError | null = null;
  private readonly opts: ParserOptions;

  constructor(opts: ParserOptions = {}) {
    this.opts = opts;
    if (opts.format) this.dec = this.decoderFor(opts.format);
  }

  /** 'pcap' or 'pcapng' once the first bytes have arrived. */
  get format(): CaptureFormat | undefined {
    return this.dec?.info?.format;
  }

  /** What the file header (pcapng: the current section header) says. */
  get info(): CaptureInfo | undefined {
    return this.dec?.info;
  }

  /** The interfaces of the file (pcapng: of the current section), indexed by interfaceId. */
  get interfaces(): readonly InterfaceInfo[] {
    return this.dec?.interfaces ?? [];
  }

  /** Packets delivered so far. */
  get records(): number {
    return this.dec?.records ?? 0;
  }

  /** Input bytes consumed so far. */
  get bytesConsumed(): number {
    return this.q.consumed;
  }

  private decoderFor(f: CaptureFormat): Decoder {
    return f === 'pcap' ? new PcapDecoder(this.opts) : new PcapngDecoder(this.opts);
  }

  /** Hand over the next chunk of input (not copied: do not overwrite it while its records are in use). */
  push(chunk: Uint8Array): void {
    if (this.closed) throw new Error('CaptureParser: push() after close()');
    if (this.dec) { this.q.push(chunk); return; }
    if (chunk.length === 0) return;
    this.head.push(chunk);
    this.headLen += chunk.length;
    if (this.headLen < 4) return;
    const first = this.head.length === 1 ? chunk : flat(this.head, 4);
    const f = detectFormat(first);
    if (f === undefined) {
      const magic = Array.from(first.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
      this.error = new PcapError('PCAP_BAD_MAGIC', `not a pcap or pcapng capture: magic 0x${magic}`, 0, 0);
      return;
    }
    this.dec = this.decoderFor(f);
    for (const c of this.head) this.q.push(c);
    this.head = [];
  }

  /** Marks the end of input: from now on next() reports a cut-short capture instead of waiting. */
  close(): void {
    this.closed = true;
  }

  /**
   * The next complete packet, or null when more input is needed (before
   * close()) or the capture is complete (after close()). Throws PcapError at
   * damage, after every packet before it has been returned.
   */
  next(): PacketRecord | null {
    if (this.error) throw this.error;
    try {
      const r = this.dec ? this.dec.next(this.q) : null;
      if (r !== null || !this.closed) return r;
      this.checkComplete();
      return null;
    } catch (e) {
      this.error = e instanceof PcapError ? e
        : new PcapError('PCAP_MALFORMED', `malformed capture: ${(e as Error).message}`,
          this.records, this.dec?.start ?? 0);
      throw this.error;
    }
  }

  private checkComplete(): void {
    const dec = this.dec;
    if (dec === null) {
      throw new PcapError('PCAP_TRUNCATED', this.headLen === 0 ? 'empty input: no capture header'
        : `input ends after ${this.headLen} bytes, inside the capture header`, 0, 0);
    }
    if (!this.q.empty) {
      const have = this.q.consumed + this.q.buffered - dec.start;
      throw new PcapError('PCAP_TRUNCATED',
        `${dec.pending()} is cut short: input ends ${have} bytes into it`, dec.records, dec.start);
    }
    if (dec.info === undefined) {
      throw new PcapError('PCAP_TRUNCATED', 'input ends inside the capture header', 0, 0);
    }
  }

  /** Push `chunk` and yield every packet it completes. */
  *feed(chunk: Uint8Array): Generator<PacketRecord, void, undefined> {
    this.push(chunk);
    let r: PacketRecord | null;
    while ((r = this.next()) !== null) yield r;
  }

  /** Push `chunk` and return every packet it completes (throws, losing them, if the chunk holds damage: use next() to get both). */
  drain(chunk?: Uint8Array): PacketRecord[] {
    if (chunk) this.push(chunk);
    const out: PacketRecord[] = [];
    let r: PacketRecord | null;
    while ((r = this.next()) !== null) out.push(r);
    return out;
  }

  /** End of input: yield the packets still buffered, then throw if the capture was cut short. */
  *end(): Generator<PacketRecord, void, undefined> {
    this.close();
    let r: PacketRecord | null;
    while ((r = this.next()) !== null) yield r;
  }
}

/** Lazily read an in-memory capture (records are views into `bytes`); throws at damage after the packets before it. */
export function* captureRecords(bytes: Uint8Array, opts: ParserOptions = {}): Generator<PacketRecord, void, undefined> {
  const p = new CaptureParser(opts);
  p.push(bytes);
  yield* p.end();
}

/** Read a whole in-memory capture (records are views into `bytes`). Throws PcapError on damage. */
export function parseCapture(bytes: Uint8Array, opts: ParserOptions = {}): PacketRecord[] {
  const p = new CaptureParser(opts);
  p.push(bytes);
  p.close();
  return p.drain();
}

/** The parts of a web ReadableStream the readers use. */
export interface ReadableStreamLike<T> {
  getReader(): {
    read(): Promise<{ done: boolean; value?: T }>;
    releaseLock(): void;
    cancel(reason?: unknown): Promise<void>;
  };
}

export type ByteSource =
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | ReadableStreamLike<Uint8Array>;

/** Chunks of any byte source: async iterables (Node streams), iterables, web ReadableStreams (read through a reader, cancelled if the consumer stops early). */
export async function* byteChunks(source: ByteSource | Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  if (source instanceof Uint8Array) {
    yield source;
  } else if (typeof (source as ReadableStreamLike<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStreamLike<Uint8Array>).getReader();
    let done = false;
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) { done = true; return; }
        if (r.value !== undefined) yield bytesOf(r.value);
      }
    } finally {
      if (!done) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  } else {
    for await (const c of source as AsyncIterable<unknown>) yield bytesOf(c);
  }
}

/** A plain Uint8Array view of a chunk (not a Buffer or other subclass), so records look the same from any source. */
function bytesOf(c: unknown): Uint8Array {
  if (!ArrayBuffer.isView(c)) {
    throw new TypeError(`capture source yielded a ${typeof c}, not bytes (a stream with an encoding set?)`);
  }
  return c.constructor === Uint8Array ? c as Uint8Array : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Packets of a capture arriving as chunks (a Node stream such as
 * `fs.createReadStream(f)` or `process.stdin`, a web ReadableStream, any
 * (async) iterable of Uint8Array). Constant memory: one chunk plus at most one
 * record are held. Throws PcapError at damage after the packets before it.
 */
export async function* readPackets(source: ByteSource | Uint8Array, opts: ParserOptions = {}): AsyncGenerator<PacketRecord, void, undefined> {
  const p = new CaptureParser(opts);
  for await (const chunk of byteChunks(source)) {
    p.push(chunk);
    let r: PacketRecord | null;
    while ((r = p.next()) !== null) yield r;
  }
  yield* p.end();
}

/**
 * Like readPackets, one array of packets per input chunk (much less await
 * overhead per packet). On damage the packets before it come as a last batch,
 * then the error is thrown.
 */
export async function* readBatches(source: ByteSource | Uint8Array, opts: ParserOptions = {}): AsyncGenerator<PacketRecord[], void, undefined> {
  const p = new CaptureParser(opts);
  const drain = function* (): Generator<PacketRecord[], void, undefined> {
    const out: PacketRecord[] = [];
    try {
      let r: PacketRecord | null;
      while ((r = p.next()) !== null) out.push(r);
    } catch (e) {
      if (out.length) yield out;
      throw e;
    }
    if (out.length) yield out;
  };
  for await (const chunk of byteChunks(source)) {
    p.push(chunk);
    yield* drain();
  }
  p.close();
  yield* drain();
}

function flat(parts: readonly Uint8Array[], max: number): Uint8Array {
  const out = new Uint8Array(max);
  let o = 0;
  for (const p of parts) {
    const k = Math.min(p.length, max - o);
    out.set(p.subarray(0, k), o);
    o += k;
    if (o === max) break;
  }
  return out;
}

/**
 * A web TransformStream from capture bytes to packet records, e.g.
 * `response.body.pipeThrough(packetStream())`. Damage errors the stream after
 * the packets before it have been enqueued.
 */
export function packetStream(opts: ParserOptions = {}): TransformStream<Uint8Array, PacketRecord> {
  const p = new CaptureParser(opts);
  return new TransformStream<Uint8Array, PacketRecord>({
    transform(chunk, controller) {
      for (const r of p.feed(chunk)) controller.enqueue(r);
    },
    flush(controller) {
      for (const r of p.end()) controller.enqueue(r);
    },
  });
}
