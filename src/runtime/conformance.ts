// The bpf_conformance test format (github.com/Alan-Jowett/bpf_conformance):
// a `.data` file of sections introduced by `-- NAME` lines:
//
//   -- asm      program text (uBPF mnemonics)
//   -- raw      instruction words: `0x5566778800000018` per line (64-bit
//               little-endian words, opcode in the low byte) or 8 hex bytes
//               per line (`07 00 01 00 01 00 00 00`); preferred over asm
//   -- mem      input memory as hex bytes
//   -- result   expected R0, compared as a full 64-bit value
//   -- error    the program must be refused (text: the suite's message)
//   -- c, -- no register offset ...  informational, ignored
//
// `#` lines outside asm/raw are comments. Helper 5 is the suite's `unwind`
// helper (see conformanceHelpers). Parsing is pure: file I/O is the CLI's.

import { isTsbpfError } from '../errors.js';
import { assemble } from '../isa/asm.js';
import { type Instruction, decode } from '../isa/instruction.js';
import { SLOT_SIZE } from '../isa/opcodes.js';
import { conformanceHelpers } from './helpers.js';
import { runRaw } from './raw.js';

export interface ConformanceCase {
  readonly asm?: string;
  /** 1-based line of the first asm line in the file (for error locations). */
  readonly asmLine: number;
  readonly raw?: Uint8Array;
  readonly mem: Uint8Array;
  readonly result?: bigint;
  /** Present when the file has an `-- error` section (possibly empty text). */
  readonly error?: string;
  /** Section names that are neither known nor informational. */
  readonly unknownSections: readonly string[];
  /** First malformed section, if any (the case is then refused). */
  readonly formatError?: FormatProblem;
}

/** A malformed section: the case is refused at stage 'format' rather than parsed. */
interface FormatProblem {
  readonly line: number;
  readonly reason: string;
}

const KNOWN = new Set(['asm', 'raw', 'mem', 'result', 'error']);
const INFORMATIONAL = new Set(['c', 'no register offset', 'no jit', 'no verifier']);

/** Parse a .data file. Never throws: malformed input is reported in `formatError`. */
export function parseConformance(text: string): ConformanceCase {
  let formatError: FormatProblem | undefined;
  const problem = (line: number, reason: string): void => {
    formatError ??= { line, reason };
  };
  const lines = text.split(/\r?\n/);
  const sections = new Map<string, { body: string[]; line: number }>();
  const unknown: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const m = /^--\s*(.*?)\s*$/.exec(l);
    if (m) {
      cur = m[1]!.toLowerCase();
      if (!KNOWN.has(cur) && !INFORMATIONAL.has(cur)) unknown.push(m[1]!);
      if (!sections.has(cur)) sections.set(cur, { body: [], line: i + 2 });
      continue;
    }
    if (cur !== undefined) sections.get(cur)!.body.push(l);
  }
  const body = (k: string): string[] | undefined => sections.get(k)?.body;
  const strip = (ls: string[]): string[] => ls.map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '');

  let raw: Uint8Array | undefined;
  const rawLines = body('raw');
  if (rawLines) {
    const bytes: number[] = [];
    const at = sections.get('raw')!.line;
    strip(rawLines).forEach((l, k) => {
      if (/^0x[0-9a-f]{1,16}$/i.test(l)) {
        let v = BigInt(l);
        for (let j = 0; j < 8; j++) { bytes.push(Number(v & 0xffn)); v >>= 8n; }
      } else if (/^([0-9a-f]{2}\s+){7}[0-9a-f]{2}$/i.test(l)) {
        for (const h of l.split(/\s+/)) bytes.push(parseInt(h, 16));
      } else {
        problem(at + k, `-- raw: '${l}' is neither a 64-bit word nor 8 hex bytes`);
      }
    });
    raw = Uint8Array.from(bytes);
  }

  const memHex = strip(body('mem') ?? []).join(' ').split(/\s+/).filter((h) => h !== '');
  const mem = new Uint8Array(memHex.length);
  memHex.forEach((h, k) => {
    if (!/^[0-9a-f]{2}$/i.test(h)) problem(sections.get('mem')!.line, `-- mem: '${h}' is not a hex byte`);
    mem[k] = parseInt(h, 16);
  });

  let result: bigint | undefined;
  const res = strip(body('result') ?? []);
  if (res.length) {
    try {
      result = BigInt.asUintN(64, BigInt(res[0]!));
    } catch {
      problem(sections.get('result')!.line, `-- result: '${res[0]}' is not a number`);
    }
  }
  const asmBody = body('asm');
  const errBody = body('error');
  return {
    asm: asmBody?.join('\n'),
    asmLine: sections.get('asm')?.line ?? 0,
    raw,
    mem,
    result,
    error: errBody ? errBody.join('\n').trim() : undefined,
    unknownSections: unknown,
    formatError,
  };
}

export type CaseOutcome =
  | { readonly kind: 'ran'; readonly r0: bigint; readonly insnCount: number }
  | { readonly kind: 'refused'; readonly stage: 'format' | 'assemble' | 'decode' | 'validate' | 'run'; readonly reason: string };

/** Assemble/decode, validate and run a case (checked mode; interpreter unless `engine: 'jit'`). Never throws. */
export function runCase(c: ConformanceCase, opts: { budget?: number; engine?: 'interp' | 'jit' } = {}): CaseOutcome {
  if (c.formatError) {
    return { kind: 'refused', stage: 'format', reason: `line ${c.formatError.line}: ${c.formatError.reason}` };
  }
  if (c.unknownSections.length) {
    return { kind: 'refused', stage: 'format', reason: `unknown section '-- ${c.unknownSections[0]}'` };
  }
  let insns: Instruction[];
  let stage: 'assemble' | 'decode' = 'decode';
  try {
    if (c.raw) {
      if (c.raw.length % SLOT_SIZE !== 0) return { kind: 'refused', stage: 'decode', reason: 'raw program is not whole instructions' };
      insns = decode(c.raw);
    } else if (c.asm !== undefined) {
      stage = 'assemble';
      insns = assemble(c.asm);
    } else {
      return { kind: 'refused', stage: 'format', reason: 'no program (neither -- asm nor -- raw)' };
    }
  } catch (e) {
    return { kind: 'refused', stage, reason: describeError(e, stage === 'assemble' ? c.asmLine : 0) };
  }
  if (insns.length === 0) return { kind: 'refused', stage: 'validate', reason: 'program has no instructions' };
  try {
    const r = runRaw(insns, { mem: c.mem, helpers: conformanceHelpers(), budget: opts.budget, engine: opts.engine });
    return { kind: 'ran', r0: r.r0, insnCount: r.insnCount };
  } catch (e) {
    const st = isTsbpfError(e) && e.name === 'ValidationError' ? 'validate' : 'run';
    return { kind: 'refused', stage: st, reason: describeError(e, 0) };
  }
}

function describeError(e: unknown, lineBase: number): string {
  if (isTsbpfError(e)) {
    if (e.name === 'AsmError' && lineBase > 0) {
      const a = e as unknown as { line: number; column: number; reason: string };
      return `${e.name} ${e.code} at line ${a.line + lineBase - 1}:${a.column}: ${a.reason}`;
    }
    return `${e.name} ${e.code}: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export interface CaseVerdict {
  readonly pass: boolean;
  /** Why it failed (or, for negatives and refusals, why it was refused). */
  readonly reason: string;
  readonly outcome: CaseOutcome;
}

/**
 * Judge a case. Positive: the program must run and R0 must equal `-- result`
 * (when the file has `-- error`, it must be refused instead). Negative
 * (`negative: true`): the file must be refused, or run to a result other
 * than the one stated.
 */
export function judge(c: ConformanceCase, outcome: CaseOutcome, negative: boolean): CaseVerdict {
  const hex = (v: bigint): string => '0x' + v.toString(16);
  if (negative) {
    if (outcome.kind === 'refused') return { pass: true, reason: `refused at ${outcome.stage}: ${outcome.reason}`, outcome };
    if (c.error !== undefined) return { pass: false, reason: `ran to r0 = ${hex(outcome.r0)} but the file expects an error`, outcome };
    if (c.result === undefined) return { pass: false, reason: `ran to r0 = ${hex(outcome.r0)}; no result to contradict`, outcome };
    if (outcome.r0 !== c.result) return { pass: true, reason: `result differs as intended: r0 = ${hex(outcome.r0)}, file says ${hex(c.result)}`, outcome };
    return { pass: false, reason: `ran and matched the stated result ${hex(c.result)}`, outcome };
  }
  if (c.error !== undefined) {
    return outcome.kind === 'refused'
      ? { pass: true, reason: `refused as expected: ${outcome.reason}`, outcome }
      : { pass: false, reason: `expected an error, got r0 = ${hex(outcome.r0)}`, outcome };
  }
  if (outcome.kind === 'refused') return { pass: false, reason: `refused at ${outcome.stage}: ${outcome.reason}`, outcome };
  if (c.result === undefined) return { pass: false, reason: 'no -- result section', outcome };
  if (outcome.r0 !== c.result) return { pass: false, reason: `r0 = ${hex(outcome.r0)}, expected ${hex(c.result)}`, outcome };
  return { pass: true, reason: `r0 = ${hex(outcome.r0)}`, outcome };
}
