// The Linux kernel's side of the benchmark, through the kernel oracle
// (src/cli/kernel-oracle.ts): BPF_PROG_LOAD of the same linked instructions
// tsbpf runs, maps created and filled like the suite says, then
// BPF_PROG_TEST_RUN with a large repeat count; the time per run is the one
// the kernel reports (test.duration, the mean over the repeat loop).

import {
  KERNEL_PROG_TYPE, type KernelMap, type KernelTestRunOptions, type KernelTestRunResult, OracleError, kernelAvailable,
  kernelLoad, kernelTestRun,
} from '../src/cli/kernel-oracle.js';
import { type Instruction, type ObjectSpec, type ProgramSpec, encode } from '../src/core.js';
import { BenchError } from './errors.js';
import { median } from './measure.js';
import type { BenchProgram } from './suite.js';

export { kernelAvailable };

/** What the oracle needs to load one program of an object. */
export interface KernelProgram {
  /** Encoded for the oracle. */
  readonly insns: Uint8Array;
  /** The same instructions decoded (map lddw: src 1, imm = map index), e.g. for tsbpf's verifier. */
  readonly linked: Instruction[];
  readonly progType: number;
  readonly maps: KernelMap[];
  readonly mapNames: string[];
}

/** Linked instructions with each map lddw's imm set to the map's index (the oracle replaces it by the fd). */
export function kernelProgram(spec: ObjectSpec, prog: ProgramSpec, fills: BenchProgram['fills']): KernelProgram {
  const mapNames = spec.maps.map((m) => m.name);
  const refs = new Map(prog.mapRefs.map((r) => [r.slot, r]));
  let slot = 0;
  const insns: Instruction[] = prog.insns.map((x) => {
    const r = refs.get(slot);
    slot += x.op.kind === 'ld_imm64' ? 2 : 1;
    if (!r) return x;
    if (r.kind !== 'map') throw new BenchError('BENCH_KERNEL', `${prog.name}: map_value references are not used by the suite`);
    return { ...x, imm: mapNames.indexOf(r.map) };
  });
  const maps: KernelMap[] = spec.maps.map((m) => {
    const fill = fills.find((f) => f.map === m.name);
    return {
      type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags,
      ...(fill ? { entries: fill.entries } : {}),
    };
  });
  for (const f of fills) {
    if (!mapNames.includes(f.map)) throw new BenchError('BENCH_SUITE', `${prog.name}: no map '${f.map}' to fill`);
  }
  const progType = prog.type || KERNEL_PROG_TYPE.XDP;
  return { insns: encode(insns), linked: insns, progType, maps, mapNames };
}

/** One run from fresh maps (for the agreement check): retval, packet and map dumps. */
export function kernelOnce(k: KernelProgram, data: Uint8Array): KernelTestRunResult {
  return kernelTestRun({ insns: k.insns, progType: k.progType, maps: k.maps, data, repeat: 1, logLevel: 0 });
}

/**
 * ns per run as the kernel reports it (test.duration: the mean over the
 * repeat loop). The repeat count is calibrated so that one test run lasts
 * about `targetMs`; each `sample()` is one BPF_PROG_TEST_RUN.
 */
export class KernelTimer {
  readonly samples: number[] = [];
  readonly repeat: number;
  private readonly base: KernelTestRunOptions;

  constructor(k: KernelProgram, data: Uint8Array, targetMs: number) {
    this.base = { insns: k.insns, progType: k.progType, maps: k.maps, data, logLevel: 0, dumpMaps: false };
    const probe = kernelTestRun({ ...this.base, repeat: 1000 });
    const per = Math.max(probe.durationNs, 1);
    this.repeat = Math.max(1000, Math.min(50_000_000, Math.round((targetMs * 1e6) / per)));
  }

  sample(): number {
    const r = kernelTestRun({ ...this.base, repeat: this.repeat });
    this.samples.push(r.durationNs);
    return r.durationNs;
  }

  get ns(): number {
    return median(this.samples);
  }
}

/** Kernel load: wall time of the oracle's BPF_PROG_LOAD (driver process included) and the verifier's own time from its log statistics. */
export function kernelLoadTime(k: KernelProgram): { wallMs: number; verifierUs: number; verifiedInsns: number } {
  const t0 = performance.now();
  const r = kernelLoad({ insns: k.insns, progType: k.progType, maps: k.maps.map((m) => ({ ...m, entries: [] })), logLevel: 4 });
  const wallMs = performance.now() - t0;
  if (!r.loaded) throw new OracleError('ORACLE_LOAD', r.error, r.stage, r.errno, r.verifierLog);
  const m = /verification time (\d+) usec/.exec(r.verifierLog);
  return { wallMs, verifierUs: m ? Number(m[1]) : NaN, verifiedInsns: r.verifiedInsns };
}
