// Reader/writer/dissector throughput. Under `node --test` this file only
// registers a skipped test: the test runner's async hooks slow every promise
// down, so the benchmark runs as a plain script:
//   TSBPF_NET_BENCH=1 node dist/test/net/bench.test.js
// (test/fixtures/net/bench.sh runs it and the 200 MiB constant-memory stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CaptureParser, readPackets, readBatches, writeCapture, encodeCaptureSync, generateFlows, dissect,
  type PacketRecord, type WriterOptions,
} from '../../src/net/index.js';


/** A capture of about `packets` frames of `size` bytes, made by repeating a generated block. */
function capture(opts: WriterOptions, size: number, packets: number): { bytes: Uint8Array; packets: number } {
  const recs = [...generateFlows({ seed: 1, flows: 1000, sizes: size, tcpFraction: 0, packetsPerFlow: 10 })];
  const one = writeCapture(recs, opts);
  const headerLen = opts.format === 'pcapng'
    ? one.length - recs.reduce((a, r) => a + 32 + ((r.data.length + 3) & ~3), 0)
    : 24;
  const body = one.subarray(headerLen);
  const reps = Math.max(1, Math.round(packets / recs.length));
  const bytes = new Uint8Array(headerLen + body.length * reps);
  bytes.set(one.subarray(0, headerLen));
  for (let i = 0; i < reps; i++) bytes.set(body, headerLen + i * body.length);
  return { bytes, packets: recs.length * reps };
}

async function measure(name: string, bytes: number, fn: () => number | Promise<number>): Promise<string> {
  let best = Infinity;
  let bestCpu = Infinity;
  let n = 0;
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    n = await fn();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    best = Math.min(best, wall);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
  }
  return `${name.padEnd(34)} ${(n / best / 1e6).toFixed(2).padStart(6)} Mpps ${(bytes / best / 1048576).toFixed(0).padStart(5)} MiB/s` +
    `  (${(best * 1e9 / n).toFixed(0)} ns/pkt wall, ${(bestCpu * 1e9 / n).toFixed(0)} ns/pkt cpu)`;
}

function* chunks(b: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function bench(): Promise<string[]> {
  const lines: string[] = [];
  for (const [fmt, opts] of [['pcap', { format: 'pcap' }], ['pcapng', { format: 'pcapng' }]] as [string, WriterOptions][]) {
    for (const size of [64, 1500]) {
      const { bytes, packets } = capture(opts, size, size === 64 ? 1_000_000 : 200_000);
      const label = `${fmt} ${size}B`;
      lines.push(await measure(`${label} next() 64KiB chunks`, bytes.length, () => {
        const p = new CaptureParser();
        let n = 0;
        for (const c of chunks(bytes, 65536)) { p.push(c); while (p.next() !== null) n++; }
        p.close();
        while (p.next() !== null) n++;
        return n;
      }));
      lines.push(await measure(`${label} feed() 64KiB chunks`, bytes.length, () => {
        const p = new CaptureParser();
        let n = 0;
        for (const c of chunks(bytes, 65536)) for (const _ of p.feed(c)) n++;
        for (const _ of p.end()) n++;
        return n;
      }));
      lines.push(await measure(`${label} readPackets 64KiB`, bytes.length, async () => {
        let n = 0;
        for await (const _ of readPackets(chunks(bytes, 65536))) n++;
        return n;
      }));
      lines.push(await measure(`${label} readBatches 64KiB`, bytes.length, async () => {
        let n = 0;
        for await (const b of readBatches(chunks(bytes, 65536))) n += b.length;
        return n;
      }));
      assert.ok(packets > 0);
    }
  }
  const recs: PacketRecord[] = [...generateFlows({ seed: 2, flows: 20000, sizes: 64, tcpFraction: 0.5, packetsPerFlow: 10 })];
  const total = recs.reduce((a, r) => a + r.caplen, 0);
  for (const fmt of ['pcap', 'pcapng'] as const) {
    lines.push(await measure(`write ${fmt} 64B (encodeCaptureSync)`, total, () => {
      let n = 0;
      for (const c of encodeCaptureSync(recs, { format: fmt })) n += c.length;
      assert.ok(n > total);
      return recs.length;
    }));
  }
  lines.push(await measure('dissect 64B (no verify)', total, () => {
    let n = 0;
    for (const r of recs) if (dissect(r.data, 1).l4Offset > 0) n++;
    return n;
  }));
  lines.push(await measure('dissect 64B (verify checksums)', total, () => {
    let n = 0;
    for (const r of recs) if (dissect(r.data, 1, { verify: true }).l4ChecksumOk) n++;
    return n;
  }));
  return lines;
}

if (process.env['TSBPF_NET_BENCH']) {
  for (const l of await bench()) console.log(l);
} else {
  test('net throughput', { skip: 'run as a script: TSBPF_NET_BENCH=1 node dist/test/net/bench.test.js' }, () => {});
}
