// Shared helpers of the elf tests: fixture paths and a parser for the
// llvm-objdump -dr outputs that examples/build.sh writes beside each object.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const ROOT = new URL('../../../', import.meta.url);
export const path = (rel: string): string => new URL(rel, ROOT).pathname;
export const read = (rel: string): Uint8Array => new Uint8Array(readFileSync(path(rel)));

/** Every committed object (examples/ and test/fixtures/elf/), except the big-endian one. */
export function objects(): string[] {
  const out: string[] = [];
  for (const dir of ['examples/', 'test/fixtures/elf/']) {
    for (const f of readdirSync(path(dir)).sort()) if (f.endsWith('.o') && !f.endsWith('_be.o')) out.push(dir + f);
  }
  return out;
}

export function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export interface DumpInsn { slot: number; bytes: Uint8Array; asm: string }
export interface DumpReloc { offset: number; type: string; symbol: string }
export interface DumpSection { name: string; insns: DumpInsn[]; labels: Map<string, number>; relocs: DumpReloc[] }

/** Parse `llvm-objdump -dr` text into sections of instructions, labels and relocations. */
export function parseObjdump(text: string): Map<string, DumpSection> {
  const out = new Map<string, DumpSection>();
  let cur: DumpSection | undefined;
  for (const line of text.split('\n')) {
    let m = /^Disassembly of section (.*):$/.exec(line);
    if (m) {
      cur = { name: m[1]!, insns: [], labels: new Map(), relocs: [] };
      out.set(cur.name, cur);
      continue;
    }
    if (!cur) continue;
    m = /^([0-9a-f]{16}) <(.*)>:$/.exec(line);
    if (m) { cur.labels.set(m[2]!, parseInt(m[1]!, 16) / 8); continue; }
    m = /^\s+(\d+):\t((?:[0-9a-f]{2} ?)+)\t(.*)$/.exec(line);
    if (m) {
      const bytes = new Uint8Array(m[2]!.trim().split(' ').map((h) => parseInt(h, 16)));
      cur.insns.push({ slot: Number(m[1]), bytes, asm: m[3]!.trim() });
      continue;
    }
    m = /^\t\t([0-9a-f]{16}):\s+(R_BPF_\w+)\t(.*)$/.exec(line);
    if (m) cur.relocs.push({ offset: parseInt(m[1]!, 16), type: m[2]!, symbol: m[3]!.trim() });
  }
  return out;
}

export function objdumpOf(obj: string): Map<string, DumpSection> | undefined {
  const p = path(obj.replace(/\.o$/, '.objdump.txt'));
  return existsSync(p) ? parseObjdump(readFileSync(p, 'utf8')) : undefined;
}

/** Deterministic PRNG (mulberry32) for the fuzz tests. */
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
