// The differential run shared by kernel-alu-diff.test.ts (a few hundred
// programs) and alu-diff-long.ts (as many as you like): generate, run on the
// kernel (through the oracle) and on tsbpf's interpreter (runRaw of
// src/runtime/raw.ts) plus the BigInt model of alu-ref.ts, compare
// the full 64-bit R0, and shrink any disagreement to a minimal program.

import type { Instruction } from '../../src/isa/index.js';
import * as raw from '../../src/runtime/raw.js';
import {
  BPF_F_SLEEPABLE, KERNEL_PROG_TYPE, OracleError, kernelTestRunBatch, type KernelTestRunOptions,
} from '../../src/cli/kernel-oracle.js';
import { INIT_LENGTH, generate, kernelVariant } from './alu-gen.js';
import { refRun } from './alu-ref.js';

type RunRaw = (p: Uint8Array | Instruction[], o?: { mem?: Uint8Array }) => { r0: bigint };

/** tsbpf's interpreter (kept optional so the kernel side can run without it). */
export const runRaw: RunRaw | undefined = (raw as unknown as Record<string, unknown>)['runRaw'] as RunRaw | undefined;

export interface Outcome {
  kernel: bigint | string;
  interp?: bigint | string;
  ref: bigint | string;
}

export interface Disagreement {
  seed: number;
  mode: KernelMode;
  program: Instruction[];
  outcome: Outcome;
  /** Smallest program found that still disagrees, and its outcome. */
  minimal: Instruction[];
  minimalOutcome: Outcome;
}

/**
 * How the kernel sees the initial register values: as constants (the
 * verifier folds them and hard-wires known branches) or as inputs read from
 * the context (nothing known: the JIT computes everything).
 */
export type KernelMode = 'constants' | 'inputs';

function request(p: readonly Instruction[], mode: KernelMode): KernelTestRunOptions {
  const v = kernelVariant(p, { inputsFromCtx: mode === 'inputs' });
  return {
    insns: v.insns, ctx: v.ctx, progType: KERNEL_PROG_TYPE.SYSCALL, progFlags: BPF_F_SLEEPABLE,
    logLevel: 0, dumpMaps: false,
  };
}

function safe(f: () => bigint): bigint | string {
  try {
    return BigInt.asUintN(64, f());
  } catch (e) {
    const x = e as Error;
    return `${x.name}: ${x.message}`;
  }
}

/** Kernel results for many programs, through one driver process. */
export function kernelR0(progs: ReadonlyArray<readonly Instruction[]>, mode: KernelMode = 'constants'): Array<bigint | string> {
  const res = kernelTestRunBatch(progs.map((p) => request(p, mode)));
  return res.map((r) => {
    if (r instanceof OracleError) return `${r.code}: ${r.reason}${r.verifierLog ? `\n${r.verifierLog.trim().split('\n').slice(-3).join('\n')}` : ''}`;
    const v = new DataView(r.ctxOut.buffer, r.ctxOut.byteOffset, r.ctxOut.byteLength).getBigUint64(0, true);
    if (Number(v & 0xffffffffn) !== r.retval) return `retval ${r.retval} is not the low half of ctx ${v}`;
    return v;
  });
}

function outcomes(progs: ReadonlyArray<readonly Instruction[]>, mode: KernelMode): Outcome[] {
  const k = kernelR0(progs, mode);
  return progs.map((p, i) => ({
    kernel: k[i]!,
    ...(runRaw ? { interp: safe(() => runRaw([...p]).r0) } : {}),
    ref: safe(() => refRun(p)),
  }));
}

/** The interpreter (or, before it exists, the reference) against the kernel. */
function disagrees(o: Outcome): boolean {
  if (typeof o.kernel === 'string') return true;
  return (runRaw ? o.interp : o.ref) !== o.kernel;
}

// Remove the instruction at logical index i, keeping every jump on its
// logical target (a jump to i now goes to what followed it). The final exit
// stays.
function remove(p: readonly Instruction[], i: number): Instruction[] {
  const slot: number[] = [];
  let s = 0;
  for (const x of p) {
    slot.push(s);
    s += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  const bySlot = new Map(slot.map((v, k) => [v, k]));
  const targets = p.map((x, k) => (x.op.kind === 'jcond' ? bySlot.get(slot[k]! + 1 + x.off)! : -1));
  const keep = p.map((_, k) => k).filter((k) => k !== i);
  const newIndex = new Map(keep.map((k, n) => [k, n]));
  const out = keep.map((k) => p[k]!);
  const nslot: number[] = [];
  s = 0;
  for (const x of out) {
    nslot.push(s);
    s += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  return out.map((x, n) => {
    const k = keep[n]!;
    if (targets[k]! < 0) return x;
    const t = newIndex.get(targets[k]! === i ? i + 1 : targets[k]!)!;
    return { ...x, off: nslot[t]! - nslot[n]! - 1 };
  });
}

/** Greedy shrinking: drop instructions while the disagreement persists. */
export function shrink(p: readonly Instruction[], mode: KernelMode): { program: Instruction[]; outcome: Outcome } {
  let cur = [...p];
  let outcome = outcomes([cur], mode)[0]!;
  for (let changed = true; changed;) {
    changed = false;
    // The register set-up stays (the inputs mode reads it from the context).
    const candidates = cur.slice(INIT_LENGTH, -1).map((_, i) => remove(cur, INIT_LENGTH + i));
    const os = outcomes(candidates, mode);
    const k = os.findIndex((o) => disagrees(o) && typeof o.kernel !== 'string');
    if (k >= 0) {
      cur = candidates[k]!;
      outcome = os[k]!;
      changed = true;
    }
  }
  return { program: cur, outcome };
}

export interface DiffReport {
  /** Programs generated; each runs on the kernel twice (constants, inputs). */
  programs: number;
  /** Which engine was compared with the kernel. */
  engine: 'interpreter' | 'reference';
  disagreements: Disagreement[];
  /** Programs where the reference model and the kernel differ (diagnostics). */
  refDisagreements: number;
  ms: number;
}

export function runDiff(firstSeed: number, count: number, opts: { batch?: number; maxReported?: number } = {}): DiffReport {
  const t0 = Date.now();
  const batch = opts.batch ?? 500;
  const dis: Disagreement[] = [];
  let refDis = 0;
  for (let b = 0; b < count; b += batch) {
    const seeds = Array.from({ length: Math.min(batch, count - b) }, (_, i) => firstSeed + b + i);
    const progs = seeds.map((s) => generate(s));
    for (const mode of ['constants', 'inputs'] as const) {
      const os = outcomes(progs, mode);
      os.forEach((o, i) => {
        if (o.ref !== o.kernel) refDis++;
        if (!disagrees(o) || dis.length >= (opts.maxReported ?? 5)) return;
        const m = shrink(progs[i]!, mode);
        dis.push({ seed: seeds[i]!, mode, program: progs[i]!, outcome: o, minimal: m.program, minimalOutcome: m.outcome });
      });
    }
  }
  return { programs: count, engine: runRaw ? 'interpreter' : 'reference', disagreements: dis, refDisagreements: refDis, ms: Date.now() - t0 };
}

/** A listing good enough to read a failing program. */
export function listing(p: readonly Instruction[]): string {
  return p.map((x, i) => {
    const o = x.op;
    const f: string[] = [];
    if (o.operands.includes('dst')) f.push(`r${x.dst}`);
    if (o.srcReg) f.push(`r${x.src}`);
    if (o.kind === 'ld_imm64') f.push(`0x${((BigInt(x.imm2 >>> 0) << 32n) | BigInt(x.imm >>> 0)).toString(16)}`);
    else if (o.operands.includes('imm')) f.push(String(x.imm));
    if (o.kind === 'jcond') f.push(`+${x.off}`);
    return `${String(i).padStart(3)}: ${o.name} ${f.join(', ')}`;
  }).join('\n');
}

export function describe(d: Disagreement): string {
  const show = (o: Outcome): string =>
    Object.entries(o).map(([k, v]) => `${k}=${typeof v === 'bigint' ? '0x' + v.toString(16) : v}`).join(' ');
  return `seed ${d.seed} (kernel sees ${d.mode}): ${show(d.outcome)}\nminimal program (${show(d.minimalOutcome)}):\n${listing(d.minimal)}`;
}
