// Node adapters for the net layer's streaming capture reader and writers:
// files, stdin/stdout (`tcpdump -w - | tsbpf ...`), any Node stream, with
// backpressure on writes. Memory stays constant whatever the capture size.

import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import {
  readPackets, readBatches, encodeCapture, type EncodeOptions, type PacketInput, type PacketRecord, type ParserOptions,
} from '../net/index.js';

export interface ReadFileOptions extends ParserOptions {
  /** Read size in bytes; default 1 MiB. */
  readonly highWaterMark?: number;
}

/** A byte stream for a path, '-' meaning standard input. */
export function openCaptureSource(path: string, highWaterMark = 1 << 20): Readable {
  return path === '-' ? process.stdin : createReadStream(path, { highWaterMark });
}

/** Packets of a capture file (pcap or pcapng; '-' = stdin), streamed in constant memory. */
export function readCaptureFile(path: string, opts: ReadFileOptions = {}): AsyncGenerator<PacketRecord, void, undefined> {
  return readPackets(openCaptureSource(path, opts.highWaterMark), opts);
}

/** Like readCaptureFile, one array of packets per chunk read (faster for bulk processing). */
export function readCaptureFileBatches(path: string, opts: ReadFileOptions = {}): AsyncGenerator<PacketRecord[], void, undefined> {
  return readBatches(openCaptureSource(path, opts.highWaterMark), opts);
}

export interface WriteResult {
  readonly records: number;
  readonly bytes: number;
}

/** Encode records into a Node writable (honouring backpressure). Does not end the stream. */
export async function writeCaptureStream(records: AsyncIterable<PacketInput> | Iterable<PacketInput>, out: Writable,
  opts: EncodeOptions = {}): Promise<WriteResult> {
  let n = 0;
  let bytes = 0;
  async function* counted(): AsyncGenerator<PacketInput, void, undefined> {
    for await (const r of records) { n++; yield r; }
  }
  for await (const chunk of encodeCapture(counted(), opts)) {
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  return { records: n, bytes };
}

/** Write records to a capture file ('-' = stdout); resolves when the file is complete. */
export async function writeCaptureFile(path: string, records: AsyncIterable<PacketInput> | Iterable<PacketInput>,
  opts: EncodeOptions = {}): Promise<WriteResult> {
  if (path === '-') return writeCaptureStream(records, process.stdout, opts);
  const out = createWriteStream(path);
  try {
    const r = await writeCaptureStream(records, out, opts);
    out.end();
    await once(out, 'finish');
    return r;
  } catch (e) {
    out.destroy();
    throw e;
  }
}
