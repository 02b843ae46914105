// Reader of the verifier case files (test/fixtures/verifier/*.txt): code,
// program type, maps, mode, expected verdict and message, as the kernel's
// selftests annotate theirs. Shared by the case test and the kernel
// comparison.
import { readFileSync } from 'node:fs';
import { assemble } from '../../src/isa/asm.js';
import type { Instruction } from '../../src/isa/instruction.js';
import type { MapInfo } from '../../src/verifier/verifier.js';

export interface VerifierCase {
  readonly name: string;
  readonly line: number;
  readonly progType: number;
  readonly maps: MapInfo[];
  readonly unprivileged: boolean;
  readonly expect: { readonly ok: boolean; readonly code?: string; readonly message?: RegExp };
  /** The kernel's verdict when it differs from ours ('skip': not comparable). */
  readonly kernel?: 'accept' | 'reject' | 'skip';
  readonly kernelNote?: string;
  readonly text: string;
  readonly insns: Instruction[];
}

export const PROG_TYPES: Record<string, number> = {
  socket: 1, kprobe: 2, tc: 3, tracepoint: 5, xdp: 6, cgroup_skb: 8, raw_tp: 17,
};

export const MAP_TYPES: Record<string, number> = {
  hash: 1, array: 2, prog_array: 3, perf: 4, percpu_hash: 5, percpu_array: 6, lru_hash: 9, devmap: 14, ringbuf: 27,
};

export function fixture(name: string): URL {
  return new URL(`../../../test/fixtures/verifier/${name}`, import.meta.url);
}

export function readCases(name = 'cases.txt'): VerifierCase[] {
  const text = readFileSync(fixture(name), 'utf8');
  const lines = text.split('\n');
  const out: VerifierCase[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (!l.startsWith('== ')) { i++; continue; }
    const name = l.slice(3).trim();
    const start = i + 1;
    i++;
    const head: Record<string, string> = {};
    while (i < lines.length && lines[i]!.trim() !== '--') {
      const h = lines[i]!;
      const m = /^(\w+):\s*(.*)$/.exec(h);
      if (m) head[m[1]!] = m[2]!;
      else if (h.trim() && !h.startsWith('#')) throw new Error(`${name}: bad header line '${h}'`);
      i++;
    }
    i++;
    const body: string[] = [];
    while (i < lines.length && !lines[i]!.startsWith('== ')) {
      const b = lines[i]!;
      if (!b.startsWith('#')) body.push(b);
      i++;
    }
    const type = head['type'] ?? 'xdp';
    const progType = PROG_TYPES[type] ?? Number(type);
    if (!Number.isInteger(progType)) throw new Error(`${name}: unknown type ${type}`);
    const maps = (head['maps'] ?? '').split(/\s+/).filter(Boolean).map((m): MapInfo => {
      const [t, k, v, n] = m.split(':');
      const mt = MAP_TYPES[t!] ?? Number(t);
      return { type: mt, keySize: Number(k), valueSize: Number(v), maxEntries: Number(n) };
    });
    const ex = head['expect'] ?? '';
    let expect: VerifierCase['expect'];
    if (ex === 'accept') expect = { ok: true };
    else {
      const m = /^reject\s+(\w+)\s+\/(.*)\/$/.exec(ex);
      if (!m) throw new Error(`${name}: bad expect '${ex}'`);
      expect = { ok: false, code: m[1]!, message: new RegExp(m[2]!) };
    }
    const k = head['kernel'];
    let kernel: VerifierCase['kernel'];
    let kernelNote: string | undefined;
    if (k) {
      const [v, ...note] = k.split('#');
      kernel = v!.trim() as VerifierCase['kernel'];
      kernelNote = note.join('#').trim() || undefined;
    }
    const src = body.join('\n');
    out.push({
      name, line: start, progType, maps, unprivileged: head['mode'] === 'unprivileged', expect, text: src,
      insns: assemble(src), ...(kernel ? { kernel } : {}), ...(kernelNote ? { kernelNote } : {}),
    });
  }
  return out;
}
