import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  CaptureParser, Rng, parseCapture, readPackets, readBatches, writeCapture, encodeCapture, encodeCaptureSync,
  packetStream, captureStream, type PacketInput,
  generateFlows, dnsQueries, mergeByTime, type PacketRecord, type WriterOptions,
} from '../../src/net/index.js';
import { readCaptureFile, writeCaptureFile, readCaptureFileBatches } from '../../src/cli/pcap-stream.js';
import type { PcapError } from '../../src/errors.js';

const traffic = [...mergeByTime(generateFlows({ flows: 12, seed: 7, ipv6Fraction: 0.3, vlan: 5 }), dnsQueries({ count: 20, responses: true }))];

const FORMATS: [string, WriterOptions][] = [
  ['pcap LE us', { format: 'pcap', resolution: 'us' }],
  ['pcap BE ns', { format: 'pcap', littleEndian: false }],
  ['pcapng LE', { format: 'pcapng' }],
  ['pcapng BE us', { format: 'pcapng', littleEndian: false, resolution: 'us' }],
];

function key(r: PacketRecord): string {
  return `${r.ts} ${r.caplen} ${r.origLen} ${r.linkType} ${r.interfaceId} ${Buffer.from(r.data).toString('hex')}`;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

for (const [name, opts] of FORMATS) {
  test(`${name}: one byte at a time and random chunkings give the whole-buffer records`, () => {
    const bytes = writeCapture(traffic, opts);
    const whole = parseCapture(bytes).map(key);
    assert.equal(whole.length, traffic.length);
    const p = new CaptureParser();
    const one: string[] = [];
    for (let i = 0; i < bytes.length; i++) for (const r of p.feed(bytes.subarray(i, i + 1))) one.push(key(r));
    for (const r of p.end()) one.push(key(r));
    assert.deepEqual(one, whole);
    const rng = new Rng(99);
    for (let trial = 0; trial < 20; trial++) {
      const q = new CaptureParser();
      const got: string[] = [];
      for (let i = 0; i < bytes.length;) {
        const n = rng.pick([1, 2, 3, 7, 16, 17, 100, 1000, 4096]);
        // Copies: the parser must not depend on chunks sharing a buffer.
        for (const r of q.feed(bytes.slice(i, i + n))) got.push(key(r));
        i += n;
      }
      for (const r of q.end()) got.push(key(r));
      assert.deepEqual(got, whole, `trial ${trial}`);
    }
  });
}

test('records inside one chunk are views of it; spanning records are copies', () => {
  const bytes = writeCapture(traffic.slice(0, 10), { format: 'pcap' });
  const recs = parseCapture(bytes);
  for (const r of recs) assert.equal(r.data.buffer, bytes.buffer);
  const p = new CaptureParser();
  const a = bytes.slice(0, 100);
  const b = bytes.slice(100);
  const got = [...p.feed(a), ...p.feed(b), ...p.end()];
  assert.notEqual(got[0]!.data.buffer, a.buffer); // record 0 spans the boundary at 100
  assert.equal(got[1]!.data.buffer, b.buffer);
  assert.deepEqual(got.map(key), recs.map(key));
});

test('a generator abandoned early loses nothing: the next feed continues', () => {
  const bytes = writeCapture(traffic.slice(0, 6), { format: 'pcapng' });
  const p = new CaptureParser();
  const got: PacketRecord[] = [];
  for (const r of p.feed(bytes.subarray(0, 700))) { got.push(r); break; }
  for (const r of p.feed(bytes.subarray(700))) got.push(r);
  for (const r of p.end()) got.push(r);
  assert.deepEqual(got.map(key), parseCapture(bytes).map(key));
});

test('readPackets over an async iterable, a web ReadableStream, a Node stream and an array', async () => {
  const bytes = writeCapture(traffic, { format: 'pcapng' });
  const want = parseCapture(bytes).map(key);
  const collect = async (src: Parameters<typeof readPackets>[0]): Promise<string[]> => {
    const out: string[] = [];
    for await (const r of readPackets(src)) out.push(key(r));
    return out;
  };
  assert.deepEqual(await collect(chunked(bytes, 333)), want);
  let i = 0;
  const web = new ReadableStream<Uint8Array>({
    pull(c) { if (i >= bytes.length) c.close(); else { c.enqueue(bytes.slice(i, i + 1000)); i += 1000; } },
  });
  assert.deepEqual(await collect(web), want);
  assert.deepEqual(await collect(Readable.from([Buffer.from(bytes.subarray(0, 5)), Buffer.from(bytes.subarray(5))])), want);
  assert.deepEqual(await collect([bytes]), want);
  assert.deepEqual(await collect(bytes), want);
  await assert.rejects(collect(Readable.from(['not bytes'])), { name: 'TypeError' });
  const batches: number[] = [];
  for await (const b of readBatches(chunked(bytes, 4096))) batches.push(b.length);
  assert.equal(batches.reduce((a, b) => a + b, 0), want.length);
  assert.ok(batches.length > 1);
});

function webSource<T>(items: T[]): ReadableStream<T> {
  let i = 0;
  return new ReadableStream<T>({ pull(c) { if (i < items.length) c.enqueue(items[i++]!); else c.close(); } });
}

async function drainWeb<T>(s: ReadableStream<T>): Promise<{ got: T[]; err: unknown }> {
  const got: T[] = [];
  const reader = s.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return { got, err: undefined };
      got.push(r.value);
    }
  } catch (e) {
    return { got, err: e };
  }
}

test('web TransformStreams: records -> captureStream -> packetStream -> records', async () => {
  for (const [name, opts] of FORMATS) {
    const bytes = await drainWeb(webSource<PacketInput>(traffic).pipeThrough(captureStream({ ...opts, chunkSize: 2000 })));
    assert.equal(bytes.err, undefined);
    assert.ok(bytes.got.length > 5, name);
    assert.deepEqual(Buffer.concat(bytes.got), Buffer.from(writeCapture(traffic, opts)), name);
    const recs = await drainWeb(webSource(bytes.got).pipeThrough(packetStream()));
    assert.equal(recs.err, undefined);
    assert.deepEqual(recs.got.map(key), parseCapture(writeCapture(traffic, opts)).map(key), name);
  }
  // Damage: the packets before it come out, then the stream errors.
  const whole = writeCapture(traffic.slice(0, 5), { format: 'pcap' });
  const cut = whole.subarray(0, whole.length - 3);
  const r = await drainWeb(webSource([cut.slice(0, 50), cut.slice(50)]).pipeThrough(packetStream()));
  assert.equal(r.got.length, 4);
  assert.equal((r.err as PcapError).code, 'PCAP_TRUNCATED');
  assert.equal((r.err as PcapError).record, 4);
});

test('stopping early cancels a web ReadableStream', async () => {
  const bytes = writeCapture(traffic, { format: 'pcap' });
  let cancelled = false;
  let i = 0;
  const web = new ReadableStream<Uint8Array>({
    pull(c) { c.enqueue(bytes.slice(i, i + 500)); i += 500; },
    cancel() { cancelled = true; },
  });
  let n = 0;
  for await (const _ of readPackets(web)) if (++n === 3) break;
  assert.equal(n, 3);
  assert.ok(cancelled);
});

test('a damaged stream delivers every packet before the damage, then the error naming the record', async () => {
  const bytes = writeCapture(traffic, { format: 'pcap' });
  const recs = parseCapture(bytes);
  // Corrupt record 17's caplen; cut the file in record 30 for the second case.
  let off = 24;
  for (let i = 0; i < 17; i++) off += 16 + recs[i]!.caplen;
  const corrupt = bytes.slice();
  new DataView(corrupt.buffer).setUint32(off + 8, 0x7fffffff, true);
  let cut = 24;
  for (let i = 0; i < 30; i++) cut += 16 + recs[i]!.caplen;
  for (const [what, input, n, code, at] of [
    ['corrupt', corrupt, 17, 'PCAP_ABSURD_LENGTH', off], ['truncated', bytes.subarray(0, cut + 20), 30, 'PCAP_TRUNCATED', cut],
  ] as const) {
    const processed: string[] = [];
    let err: PcapError | undefined;
    try {
      for await (const r of readPackets(chunked(input, 1024))) processed.push(key(r));
    } catch (e) { err = e as PcapError; }
    assert.deepEqual(processed, recs.slice(0, n).map(key), what);
    assert.equal(err?.name, 'PcapError', what);
    assert.equal(err?.code, code, what);
    assert.equal(err?.record, n, what);
    assert.equal(err?.offset, at, what);
    // Batches: the good packets of the last chunk come before the error too.
    let seen = 0;
    let berr: PcapError | undefined;
    try {
      for await (const b of readBatches(chunked(input, 100000))) seen += b.length;
    } catch (e) { berr = e as PcapError; }
    assert.equal(seen, n, what);
    assert.equal(berr?.code, code, what);
  }
});

test('encodeCapture chunks concatenate to writeCapture output, each at most chunkSize unless one record is larger', async () => {
  for (const [, opts] of FORMATS) {
    const whole = writeCapture(traffic, opts);
    const parts: Uint8Array[] = [];
    for await (const c of encodeCapture(traffic, { ...opts, chunkSize: 4096 })) parts.push(c);
    assert.ok(parts.length > 3);
    for (const c of parts) assert.ok(c.length <= 4096 + 2048, `chunk of ${c.length}`);
    assert.deepEqual(Buffer.concat(parts), Buffer.from(whole));
    assert.deepEqual(Buffer.concat([...encodeCaptureSync(traffic, { ...opts, chunkSize: 100 })]), Buffer.from(whole));
  }
});

test('node adapter: write a file, read it back (records and batches)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-net-'));
  try {
    const f = join(dir, 'x.pcapng');
    const res = await writeCaptureFile(f, traffic, { format: 'pcapng', chunkSize: 1000 });
    assert.equal(res.records, traffic.length);
    const got: string[] = [];
    for await (const r of readCaptureFile(f, { highWaterMark: 777 })) got.push(key(r));
    assert.deepEqual(got, traffic.map((r) => key(r)));
    let n = 0;
    for await (const b of readCaptureFileBatches(f)) n += b.length;
    assert.equal(n, traffic.length);
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, 'not a capture at all');
    await assert.rejects(async () => { for await (const _ of readCaptureFile(bad)); }, { name: 'PcapError', code: 'PCAP_BAD_MAGIC' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A capture of `mb` MiB as fresh chunks of `chunk` bytes: a header, then a block of records repeated. */
function bigCapture(mb: number, chunk: number, frameSize = 600): Generator<Uint8Array> {
  // Built before the caller measures its baseline; only the chunks come lazily.
  const recs = [...generateFlows({ flows: 200, seed: 3, sizes: frameSize, packetsPerFlow: 10 })];
  const full = writeCapture(recs, { format: 'pcap' });
  return chunksOf(full, mb, chunk);
}

function* chunksOf(full: Uint8Array, mb: number, chunk: number): Generator<Uint8Array> {
  const header = full.subarray(0, 24);
  const body = full.subarray(24);
  const total = 24 + Math.ceil((mb * 1048576) / body.length) * body.length;
  let pos = 0;
  while (pos < total) {
    const n = Math.min(chunk, total - pos);
    const c = new Uint8Array(n);
    for (let o = 0; o < n;) {
      const at = pos + o;
      const src = at < 24 ? header.subarray(at) : body.subarray((at - 24) % body.length);
      const k = Math.min(n - o, src.length);
      c.set(src.subarray(0, k), o);
      o += k;
    }
    pos += n;
    yield c;
  }
}

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const STREAM_MB = Number(process.env['TSBPF_NET_STREAM_MB'] ?? 50);

test(`constant memory: ${STREAM_MB} MiB streamed through readPackets`, async (t) => {
  const gc = gcFunction();
  const chunks = bigCapture(STREAM_MB, 65521);
  async function* source(): AsyncGenerator<Uint8Array> { yield* chunks; }
  gc();
  const base = process.memoryUsage();
  let peak = 0;
  let peakRss = 0;
  let n = 0;
  let bytes = 0;
  let nextCheck = 0;
  const t0 = performance.now();
  for await (const r of readPackets(source())) {
    n++;
    bytes += r.caplen;
    if (bytes >= nextCheck) {
      nextCheck += 4 << 20;
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers);
      peakRss = Math.max(peakRss, m.rss);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`${n} packets, ${(bytes / 1048576).toFixed(0)} MiB of packet data in ${secs.toFixed(2)} s ` +
    `(with gc every 4 MiB); retained heap+buffers growth max ${(peak / 1048576).toFixed(2)} MiB; ` +
    `rss ${(base.rss / 1048576).toFixed(0)} -> peak ${(peakRss / 1048576).toFixed(0)} MiB`);
  assert.ok(bytes > STREAM_MB * 1048576 * 0.7, 'streamed the whole capture');
  assert.ok(peak < 8 * 1048576, `retained memory grew by ${peak} bytes`);
});
