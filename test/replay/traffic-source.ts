// A long capture made on the fly for the constant-memory checks: a block of
// generated packets (flows and a SYN flood, small frames) repeated with
// advancing timestamps, encoded as pcap chunks.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeCaptureSync, generateFlows, mergeByTime, synFlood, type PacketRecord } from '../../src/net/index.js';

/** Pcap chunks (about 1 MiB each) of a capture of at least `bytes` bytes. */
export function* bigCapture(bytes: number): Generator<Uint8Array, void, undefined> {
  const block = [...mergeByTime(
    generateFlows({ seed: 1, flows: 400, packetsPerFlow: [4, 40], sizes: 64, pps: 1e6 }),
    synFlood({ seed: 2, count: 3000, pps: 1e6 }),
  )];
  const span = block[block.length - 1]!.ts - block[0]!.ts + 1000n;
  let total = 0;
  function* records(): Generator<PacketRecord, void, undefined> {
    for (let round = 0n; total < bytes; round++) {
      for (const r of block) yield { ...r, ts: r.ts + round * span };
    }
  }
  for (const c of encodeCaptureSync(records(), { format: 'pcap', chunkSize: 1 << 20 })) {
    total += c.length;
    yield c;
  }
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./rss-child.js', import.meta.url));

/** Pipe a capture of `bytes` bytes into `tsbpf run examples/xdp_guard.o --pcap - EXTRA...` in a child; its exit code, peak RSS and output. */
export async function replayPiped(bytes: number, extra: string[]): Promise<{ code: number; maxRssKb: number; out: string; err: string }> {
  const p = spawn(process.execPath, [child, 'run', join(root, 'examples/xdp_guard.o'), '--pcap', '-', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<number>((res) => p.on('close', (c) => res(c ?? -1)));
  for (const chunk of bigCapture(bytes)) {
    if (!p.stdin.write(chunk)) await new Promise((r) => p.stdin.once('drain', r));
  }
  p.stdin.end();
  const code = await done;
  const m = /MAXRSS (\d+)/.exec(err);
  return { code, maxRssKb: m ? Number(m[1]) : -1, out, err };
}

