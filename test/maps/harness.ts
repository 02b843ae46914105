// Differential harness: the same sequence of map operations, made by a
// program through the map helpers, on tsbpf (interpreter + maps in linear
// memory) and on the Linux kernel (BPF_PROG_TEST_RUN via the oracle); each
// operation's return value is stored in a `results` array map so both sides
// can be compared op by op, along with the final contents of every map.
import { assemble } from '../../src/isa/asm.js';
import { encode, type Instruction } from '../../src/isa/instruction.js';
import { defaultHelpers } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { type BpfMap, createMap, registerMapHelpers } from '../../src/runtime/maps/index.js';
import { KERNEL_PROG_TYPE, type KernelMap, kernelTestRun } from '../../src/cli/kernel-oracle.js';

export interface MapDef {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly entries?: ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }>;
}

export type Op =
  | { readonly op: 'update'; readonly map: number; readonly key: Uint8Array; readonly value: Uint8Array; readonly flags: number }
  | { readonly op: 'lookup'; readonly map: number; readonly key: Uint8Array }
  | { readonly op: 'delete'; readonly map: number; readonly key: Uint8Array }
  | { readonly op: 'push'; readonly map: number; readonly value: Uint8Array; readonly flags: number }
  | { readonly op: 'pop' | 'peek'; readonly map: number }
  /** bpf_ringbuf_output of `size` bytes of the value buffer. */
  | { readonly op: 'rb_output'; readonly map: number; readonly size: number; readonly flags: number }
  /** bpf_ringbuf_reserve, then submit (or discard); R0 = 1 when the reservation succeeded. */
  | { readonly op: 'rb_reserve'; readonly map: number; readonly size: number; readonly discard: boolean }
  | { readonly op: 'rb_query'; readonly map: number; readonly flags: number };

const KEY = 64; // key buffer at fp-64
const VAL = 128; // value buffer at fp-128
const RES = 136; // result slot at fp-136, index at fp-140

function storeBytes(lines: string[], at: number, b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) lines.push(`*(u8 *)(r10 - ${at - i}) = ${b[i]}`);
}

/** The program: ops in order, op i's R0 (or the value read) stored at results[i]; `results` is the last map. */
export function buildProgram(maps: readonly MapDef[], ops: readonly Op[]): Instruction[] {
  const res = maps.length;
  const L: string[] = [];
  // The value buffer starts zeroed (ringbuf_output reads it).
  for (let off = VAL; off > VAL - 64; off -= 8) L.push(`*(u64 *)(r10 - ${off}) = 0`);
  ops.forEach((o, i) => {
    const m = maps[o.map]!;
    L.push(`ld_pseudo r1, 1, ${o.map}`);
    switch (o.op) {
      case 'update':
        storeBytes(L, KEY, o.key);
        storeBytes(L, VAL, o.value);
        L.push(`r2 = r10`, `r2 += -${KEY}`, `r3 = r10`, `r3 += -${VAL}`, `r4 = ${o.flags}`, 'call bpf_map_update_elem');
        break;
      case 'delete':
        storeBytes(L, KEY, o.key);
        L.push(`r2 = r10`, `r2 += -${KEY}`, 'call bpf_map_delete_elem');
        break;
      case 'lookup': {
        storeBytes(L, KEY, o.key);
        const w = m.valueSize >= 4 ? 'u32' : 'u8';
        L.push(`r2 = r10`, `r2 += -${KEY}`, 'call bpf_map_lookup_elem', 'if r0 == 0 goto +2', `r0 = *(${w} *)(r0 + 0)`, 'goto +1', 'r0 = -1');
        break;
      }
      case 'push':
        storeBytes(L, VAL, o.value);
        L.push(`r2 = r10`, `r2 += -${VAL}`, `r3 = ${o.flags}`, 'call bpf_map_push_elem');
        break;
      case 'pop': case 'peek': {
        const w = m.valueSize >= 4 ? 'u32' : 'u8';
        L.push(`r2 = r10`, `r2 += -${VAL}`, `call bpf_map_${o.op}_elem`, 'if r0 != 0 goto +1', `r0 = *(${w} *)(r10 - ${VAL})`);
        break;
      }
      case 'rb_output':
        L.push(`r2 = r10`, `r2 += -${VAL}`, `r3 = ${o.size}`, `r4 = ${o.flags}`, 'call bpf_ringbuf_output');
        break;
      case 'rb_reserve':
        L.push(`r2 = ${o.size}`, 'r3 = 0', 'call bpf_ringbuf_reserve', 'if r0 == 0 goto +5', `*(u8 *)(r0 + 0) = ${i & 0xff}`,
          'r1 = r0', 'r2 = 0', `call bpf_ringbuf_${o.discard ? 'discard' : 'submit'}`, 'r0 = 1');
        break;
      case 'rb_query':
        L.push(`r2 = ${o.flags}`, 'call bpf_ringbuf_query');
        break;
    }
    L.push(`*(u64 *)(r10 - ${RES}) = r0`, `*(u32 *)(r10 - ${RES + 4}) = ${i}`, `ld_pseudo r1, 1, ${res}`,
      `r2 = r10`, `r2 += -${RES + 4}`, `r3 = r10`, `r3 += -${RES}`, 'r4 = 0', 'call bpf_map_update_elem');
  });
  L.push('r0 = 0', 'exit');
  return assemble(L.join('\n'));
}

export interface Outcome {
  /** R0 (or value read) of each op, as signed 64-bit. */
  readonly results: bigint[];
  /** Final entries of each map (results excluded), as "keyhex=valuehex" in dump order. */
  readonly maps: string[][];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function resultsMap(n: number): MapDef {
  return { type: 2, keySize: 4, valueSize: 8, maxEntries: Math.max(1, n) };
}

function decodeResults(entries: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>, n: number): bigint[] {
  const out: bigint[] = new Array<bigint>(n).fill(0n);
  for (const e of entries) {
    const i = new DataView(e.key.buffer, e.key.byteOffset).getUint32(0, true);
    if (i < n) out[i] = new DataView(e.value.buffer, e.value.byteOffset).getBigInt64(0, true);
  }
  return out;
}

/** Run on tsbpf (interpreter, checked mode). `cpus` for per-CPU maps. */
export function runTsbpf(maps: readonly MapDef[], ops: readonly Op[], cpus = 1): Outcome & { live: BpfMap[] } {
  const mem = new LinearMemory();
  const all = [...maps, resultsMap(ops.length)];
  const live = all.map((d, i) => {
    const m = createMap(mem, { name: `m${i}`, ...d }, { cpus });
    for (const e of d.entries ?? []) m.update(e.key, e.value);
    return m;
  });
  const insns = buildProgram(maps, ops).map((x) =>
    x.op.kind === 'ld_imm64' && x.src === 1 ? { ...x, src: 0, imm: live[x.imm]!.handle, imm2: 0 } : x);
  const stack = mem.alloc(STACK_AREA + 64, 16);
  mem.addRegion(stack, STACK_AREA, 'stack', true);
  execute(prepare(insns), { memory: mem, stack, helpers: registerMapHelpers(defaultHelpers()), checked: true, cpu: 0 });
  const res = live[live.length - 1]!;
  return {
    results: decodeResults([...res.entries()].map(([key, value]) => ({ key, value })), ops.length),
    maps: live.slice(0, -1).map((m) => [...m.entries()].map(([k, v]) => `${hex(k)}=${hex(v)}`)),
    live,
  };
}

/** Run on the kernel (throws OracleError when it refuses). */
export function runKernel(maps: readonly MapDef[], ops: readonly Op[]): Outcome {
  const all = [...maps, resultsMap(ops.length)];
  const kmaps: KernelMap[] = all.map((d) => ({ type: d.type, keySize: d.keySize, valueSize: d.valueSize, maxEntries: d.maxEntries, flags: d.flags ?? 0, ...(d.entries ? { entries: d.entries } : {}) }));
  const r = kernelTestRun({ insns: encode(buildProgram(maps, ops)), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: new Uint8Array(64), maps: kmaps, logLevel: 0 });
  const res = r.maps[r.maps.length - 1]!;
  return {
    results: decodeResults(res.entries, ops.length),
    maps: r.maps.slice(0, -1).map((m) => m.entries.map((e) => `${hex(e.key)}=${hex(e.value)}`)),
  };
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
