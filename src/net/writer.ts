// Capture writers behind one interface, and streaming encoders that pack
// records into chunks of about `chunkSize` bytes.

import { PcapWriter, type PcapWriterOptions } from './pcap.js';
import { PcapngWriter, type PcapngWriterOptions, concatBytes } from './pcapng.js';
import type { PacketInput } from './record.js';

/** What PcapWriter and PcapngWriter have in common. */
export interface CaptureWriter {
  /** Bytes that must precede `rec` (file/section header, interface blocks), or null. */
  prepare(rec?: PacketInput): Uint8Array | null;
  /** Bytes `rec` itself takes; call after prepare(rec). */
  recordSize(rec: PacketInput): number;
  /** Encode `rec` into `out` at `off`; returns the offset after it. */
  encodeInto(rec: PacketInput, out: Uint8Array, off: number): number;
  /** prepare + encode into a fresh array. */
  write(rec: PacketInput): Uint8Array;
  /** Headers still owed if nothing was written (an empty capture is a valid file). */
  end(): Uint8Array;
}

export type WriterOptions =
  | ({ readonly format?: 'pcap' } & PcapWriterOptions)
  | ({ readonly format: 'pcapng' } & PcapngWriterOptions);

export function createWriter(opts: WriterOptions = {}): CaptureWriter {
  return opts.format === 'pcapng' ? new PcapngWriter(opts) : new PcapWriter(opts);
}

export type EncodeOptions = WriterOptions & {
  /** Target chunk size in bytes (default 65536); a larger record gets a chunk of its own. */
  readonly chunkSize?: number;
};

/** A whole capture in memory (default format pcap). */
export function writeCapture(records: Iterable<PacketInput>, opts: WriterOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const c of encodeCaptureSync(records, { ...opts, chunkSize: 1 << 20 })) parts.push(c);
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}

/** Encode records lazily into chunks (constant memory for an unbounded record source). */
export function* encodeCaptureSync(records: Iterable<PacketInput>, opts: EncodeOptions = {}): Generator<Uint8Array, void, undefined> {
  const enc = new ChunkEncoder(createWriter(opts), opts.chunkSize ?? 65536);
  for (const r of records) {
    const full = enc.add(r);
    if (full) yield full;
  }
  yield* enc.finish();
}

/** Encode records from an (async) iterable into chunks, e.g. to pipe into a file or a web WritableStream. */
export async function* encodeCapture(records: AsyncIterable<PacketInput> | Iterable<PacketInput>,
  opts: EncodeOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const enc = new ChunkEncoder(createWriter(opts), opts.chunkSize ?? 65536);
  for await (const r of records) {
    const full = enc.add(r);
    if (full) yield full;
  }
  yield* enc.finish();
}

/** Packs encoded records into chunks; each returned chunk is fresh (never reused). */
export class ChunkEncoder {
  private buf: Uint8Array;
  private pos = 0;
  private pending: Uint8Array | null = null;

  constructor(readonly writer: CaptureWriter, readonly chunkSize = 65536) {
    this.buf = new Uint8Array(chunkSize);
  }

  private put(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > 0) this.flushTo();
    if (n > this.buf.length) this.buf = new Uint8Array(n);
  }

  private flushTo(): void {
    const c = this.buf.subarray(0, this.pos);
    this.pending = this.pending ? concatBytes([this.pending, c]) : c;
    this.buf = new Uint8Array(this.chunkSize);
    this.pos = 0;
  }

  /** Add a record; returns a full chunk when one is ready. */
  add(rec: PacketInput): Uint8Array | null {
    const pre = this.writer.prepare(rec);
    if (pre) this.put(pre);
    this.reserve(this.writer.recordSize(rec));
    this.pos = this.writer.encodeInto(rec, this.buf, this.pos);
    const out = this.pending;
    this.pending = null;
    return out;
  }

  /** Whatever is left, including headers owed for an empty capture. */
  *finish(): Generator<Uint8Array, void, undefined> {
    const tail = this.writer.end();
    if (tail.length) this.put(tail);
    if (this.pos > 0) this.flushTo();
    if (this.pending) yield this.pending;
    this.pending = null;
  }
}

/** A web TransformStream from records to capture bytes (chunks of about `chunkSize`). */
export function captureStream(opts: EncodeOptions = {}): TransformStream<PacketInput, Uint8Array> {
  const enc = new ChunkEncoder(createWriter(opts), opts.chunkSize ?? 65536);
  return new TransformStream<PacketInput, Uint8Array>({
    transform(rec, controller) {
      const full = enc.add(rec);
      if (full) controller.enqueue(full);
    },
    flush(controller) {
      for (const c of enc.finish()) controller.enqueue(c);
    },
  });
}
