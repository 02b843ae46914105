// The figures beside the per-packet table: packets per second of a pcap
// replay, and memory per entry of a big hash map.

import {
  JitProgram, LinearMemory, STACK_AREA, createMap, loadObject, net,
} from '../src/core.js';
import { packetRunner, replay } from '../src/runtime/replay.js';
import { Runtime } from '../src/runtime/runtime.js';
import type { Driver } from './engines.js';
import { BenchError } from './errors.js';
import { type Clock, median, now } from './measure.js';
import { objectBytes } from './suite.js';

export interface PcapReplay {
  readonly packets: number;
  readonly captureBytes: number;
  /** Replays timed; the median is reported. */
  readonly reps: number;
  /** Parse + copy into the frames + run, packets per second (median). */
  readonly pps: number;
  /** The same loop without running the program (what reading and copying cost alone). */
  readonly ppsNoRun: number;
  /** Verdicts of the last replay. */
  readonly verdicts: Record<string, number>;
  readonly how: string;
  /**
   * The user-facing path, what `tsbpf run FILE.o --pcap` does: net.readBatches
   * over the capture in 1 MiB chunks, packetRunner(program, { engine: 'jit' })
   * and replay() (one engine call per packet, verdicts counted). Packets per
   * second (median), or why it could not run.
   */
  readonly replayApi: { readonly pps: number; readonly how: string } | { readonly error: string };
}

const FRAME = 4096;
const HEADROOM = 256;
const RING = 1024;
const XDP_ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'];

/**
 * An in-memory pcap of minimum-size frames (generated flows), read with the
 * net layer's parser; each packet is copied into one of RING XDP frames of
 * the linear memory, and every RING packets the JIT runs xdp_drop over the
 * ring in one batch call.
 */
export async function pcapReplay(_driver: Driver, quick: boolean, clock: Clock): Promise<PcapReplay> {
  const want = quick ? 20_000 : 500_000;
  const records: net.PacketRecord[] = [];
  for (const r of net.generateFlows({ flows: Math.ceil(want / 20), packetsPerFlow: [5, 30], sizes: 64, seed: 7, concurrency: 64 })) {
    records.push(r);
    if (records.length >= want) break;
  }
  const capture = net.writeCapture(records, { format: 'pcap' });
  records.length = 0;

  const spec = loadObject(objectBytes('xdp_drop'));
  const prog = new JitProgram(spec.programs[0]!.insns);
  prog.compile({ checked: false });
  const memory = new LinearMemory({ initialPages: Math.ceil((RING * (FRAME + 32) + STACK_AREA + 65536) / 65536) + 1 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  const frames: number[] = [];
  const ctxs: number[] = [];
  const args = new BigUint64Array(RING * 5);
  for (let i = 0; i < RING; i++) {
    const f = memory.alloc(FRAME, 64);
    const c = memory.alloc(24, 8);
    frames.push(f + HEADROOM);
    ctxs.push(c);
    args[i * 5] = BigInt(c);
  }
  const env = { memory, stack, checked: false };
  const verdicts = new Uint32Array(8);

  const replay = (run: boolean): number => {
    verdicts.fill(0);
    const u8 = memory.u8;
    const dv = memory.view;
    let n = 0;
    let k = 0;
    const flush = (count: number): void => {
      if (!run) return;
      const r = prog.runBatch(env, count === RING ? args : args.subarray(0, count * 5));
      // Low words of R0 without a BigInt per packet.
      const lo = new Uint32Array(r.r0.buffer, r.r0.byteOffset, count * 2);
      for (let i = 0; i < count; i++) verdicts[lo[2 * i]! & 7]!++;
    };
    for (const rec of net.captureRecords(capture)) {
      const data = frames[k]!;
      const len = Math.min(rec.data.length, FRAME - HEADROOM - 320);
      u8.set(len === rec.data.length ? rec.data : rec.data.subarray(0, len), data);
      const c = ctxs[k]!;
      dv.setUint32(c, data, true);
      dv.setUint32(c + 4, data + len, true);
      dv.setUint32(c + 8, data, true);
      dv.setUint32(c + 12, 1, true);
      n++;
      if (++k === RING) { flush(RING); k = 0; }
    }
    if (k) flush(k);
    return n;
  };

  const reps = quick ? 3 : 5;
  replay(true); // warm-up
  const times: number[] = [], timesNoRun: number[] = [];
  let packets = 0;
  for (let i = 0; i < reps; i++) {
    // Alternate the order, so that garbage one segment leaves is not always collected on the other's clock.
    for (const run of i % 2 ? [true, false] : [false, true]) {
      const t0 = now(clock);
      const n = replay(run);
      (run ? times : timesNoRun).push(now(clock) - t0);
      if (run) packets = n;
    }
  }
  let replayApi: PcapReplay['replayApi'];
  try {
    replayApi = await replayThroughApi(capture, reps, clock);
  } catch (e) {
    replayApi = { error: e instanceof Error ? e.message : String(e) };
  }
  const v: Record<string, number> = {};
  verdicts.forEach((c, i) => { if (c) v[XDP_ACTIONS[i] ?? String(i)] = c; });
  return {
    packets, captureBytes: capture.length, reps,
    pps: packets / (median(times) / 1000),
    ppsNoRun: packets / (median(timesNoRun) / 1000),
    verdicts: v,
    how: `net.captureRecords over a ${(capture.length / 1e6).toFixed(1)} MB in-memory pcap of 64-byte frames, ` +
      `copied into a ring of ${RING} XDP frames, JIT runBatch per ring (the engine's batch entry, unchecked)`,
    replayApi,
  };
}

async function replayThroughApi(capture: Uint8Array, reps: number, clock: Clock): Promise<{ pps: number; how: string }> {
  const rt = new Runtime();
  const prog = rt.loadObject(objectBytes('xdp_drop')).programs[0]!;
  const runner = packetRunner(prog, { engine: 'jit', checked: false });
  const chunks = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let o = 0; o < capture.length; o += 1 << 20) out.push(capture.subarray(o, Math.min(capture.length, o + (1 << 20))));
    return out;
  };
  await replay(net.readBatches(chunks()), runner); // warm-up
  const times: number[] = [];
  let packets = 0;
  for (let i = 0; i < reps; i++) {
    const t0 = now(clock);
    const s = await replay(net.readBatches(chunks()), runner);
    times.push(now(clock) - t0);
    packets = s.packets;
    if (s.verdicts.get('XDP_DROP')?.packets !== packets) throw new BenchError('BENCH_ENGINE', 'replay: xdp_drop did not drop every packet');
  }
  return {
    pps: packets / (median(times) / 1000),
    how: 'net.readBatches (1 MiB chunks) + packetRunner(program, { engine: \'jit\', checked: false }) + replay(): what `tsbpf run --pcap` does, one engine call per packet',
  };
}

export interface MapMemory {
  readonly entries: number;
  readonly filled: number;
  /** Linear memory the map allocated (allocator's count), after the fill. */
  readonly linearBytes: number;
  /** JS heap growth over creation and fill (after a GC when --expose-gc is given). */
  readonly heapBytes: number;
  /** linear + heap. */
  readonly bytes: number;
  readonly bytesPerEntry: number;
  readonly fillMs: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { g(); g(); }
}

/** A BPF_MAP_TYPE_HASH of 1,000,000 entries, 8-byte keys and values, created and filled from user space. */
export function mapMemory(quick: boolean): MapMemory {
  const entries = 1_000_000;
  const filled = quick ? 100_000 : entries;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const memory = new LinearMemory({ initialPages: 1 });
  const lin0 = memory.allocatedBytes;
  const m = createMap(memory, { name: 'big', type: 1, keySize: 8, valueSize: 8, maxEntries: entries });
  const key = new Uint8Array(8);
  const kv = new DataView(key.buffer);
  const value = new Uint8Array(8);
  const t0 = performance.now();
  for (let i = 0; i < filled; i++) {
    kv.setUint32(0, Math.imul(i, 0x9e3779b1) >>> 0, true);
    kv.setUint32(4, i, true);
    m.update(key, value);
  }
  const fillMs = performance.now() - t0;
  gc();
  const heapBytes = Math.max(0, process.memoryUsage().heapUsed - heap0);
  const linearBytes = memory.allocatedBytes - lin0;
  const bytes = linearBytes + heapBytes;
  m.destroy();
  return { entries, filled, linearBytes, heapBytes, bytes, bytesPerEntry: bytes / entries, fillMs };
}
