// Random but well-formed programs for differential testing of the verifier
// against the kernel: packet parsing with and without (enough) bounds
// checks, map lookups with and without null checks and index bounds, loops
// bounded and not, stack reads initialised and not, ALU chains feeding an
// index. Deterministic for a seed; each program is assembly text.
import type { MapInfo } from '../../src/verifier/verifier.js';
import type { Instruction } from '../../src/isa/instruction.js';
import type { OpSpec } from '../../src/isa/table.js';

export interface GenProgram {
  readonly kind: string;
  readonly progType: number;
  readonly unprivileged: boolean;
  readonly maps: MapInfo[];
  readonly text: string;
  /** Input data for a run: packet or context bytes (sizes the generator expects). */
}

export class Rng {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const SIZES = [1, 2, 4, 8] as const;
const SZ: Record<number, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };

function packet(r: Rng): GenProgram {
  const tc = r.chance(0.3);
  const progType = tc ? 3 : 6;
  const [dOff, eOff] = tc ? [76, 80] : [0, 4];
  const check = r.int(40) + 1;
  const size = r.pick(SIZES);
  // Mostly inside the checked range, sometimes just outside.
  const off = r.chance(0.6) ? r.int(Math.max(1, check - size + 1)) : Math.max(0, check - size + r.int(3) - 1);
  const form = r.int(6);
  const lines = [`r2 = *(u32 *)(r1 + ${dOff})`, `r3 = *(u32 *)(r1 + ${eOff})`, 'r4 = r2', `r4 += ${check}`];
  // Each form jumps to `out` when the packet is too short, falls through when it is long enough (or not, for the wrong forms).
  switch (form) {
    case 0: lines.push('if r4 > r3 goto out'); break;
    case 1: lines.push('if r3 < r4 goto out'); break;
    case 2: lines.push('if r4 >= r3 goto out'); break; // one byte more than needed
    case 3: lines.push('if r4 <= r3 goto ok', 'goto out', 'ok:'); break;
    case 4: lines.push('if r3 >= r4 goto ok', 'goto out', 'ok:'); break;
    default: lines.push('if r4 < r3 goto out'); break; // wrong edge: the access below is unchecked
  }
  if (r.chance(0.3)) {
    // A variable offset from a packet byte, re-checked (or not).
    const mask = r.pick([3, 7, 15, 31]);
    const recheck = r.chance(0.7);
    const sz2 = r.pick(SIZES);
    lines.push('r5 = *(u8 *)(r2 + 0)', `r5 &= ${mask}`, 'r2 += r5');
    if (recheck) lines.push('r4 = r2', `r4 += ${sz2 + r.int(3) - 1 || 1}`, 'if r4 > r3 goto out');
    lines.push(`r0 = *(${SZ[sz2]} *)(r2 + 0)`);
  } else if (r.chance(0.2) && !tc) {
    lines.push('r5 = 0', `*(${SZ[size]} *)(r2 + ${off}) = r5`);
  } else {
    lines.push(`r0 = *(${SZ[size]} *)(r2 + ${off})`);
  }
  lines.push('out:', 'r0 = 2', 'exit');
  return { kind: `packet/${form}`, progType, unprivileged: false, maps: [], text: lines.join('\n') };
}

function mapAccess(r: Rng): GenProgram {
  const array = r.chance(0.4);
  const vs = r.pick([4, 8, 16, 24, 64]);
  const maps: MapInfo[] = [{ type: array ? 2 : 1, keySize: 4, valueSize: vs, maxEntries: 8 }];
  const unpriv = r.chance(0.2);
  const progType = unpriv ? 1 : 6;
  const lines: string[] = [];
  const keyInit = !unpriv || r.chance(0.7);
  if (keyInit) {
    if (r.chance(0.5)) lines.push('*(u32 *)(r10 - 4) = 0');
    else lines.push(`r6 = ${r.int(8)}`, '*(u32 *)(r10 - 4) = r6');
  }
  lines.push('r2 = r10', 'r2 += -4', 'ld_pseudo r1, 1, 0', 'call bpf_map_lookup_elem');
  const nullCheck = r.chance(0.75);
  if (nullCheck) lines.push('if r0 == 0 goto out');
  const size = r.pick(SIZES);
  const variable = r.chance(0.5);
  if (variable) {
    // An index read from the value, bounded (maybe wrongly), added to the pointer.
    const limit = vs - size + r.int(3) - 1;
    const op = r.pick(['>', '>=', 's>', 'w>']);
    lines.push('r1 = *(u32 *)(r0 + 0)');
    if (r.chance(0.85)) {
      if (op === 'w>') lines.push(`if w1 > ${limit} goto out`);
      else lines.push(`if r1 ${op} ${limit} goto out`);
    }
    lines.push('r0 += r1', `r1 = *(${SZ[size]} *)(r0 + 0)`);
  } else {
    const off = r.chance(0.8) ? r.int(Math.max(1, vs - size + 1)) : vs - size + 1 + r.int(2);
    lines.push(`r1 = *(${SZ[size]} *)(r0 + ${off})`);
  }
  lines.push('out:', 'r0 = 0', 'exit');
  return { kind: `map/${array ? 'array' : 'hash'}${nullCheck ? '' : '/nonull'}${variable ? '/var' : ''}`, progType, unprivileged: unpriv, maps, text: lines.join('\n') };
}

function loop(r: Rng): GenProgram {
  const n = r.int(20) + 1;
  const slots = r.pick([4, 8, 16]);
  const lines = ['r9 = r1', 'r0 = 0', 'r1 = 0'];
  for (let i = 0; i < slots; i++) lines.push(`*(u64 *)(r10 - ${8 * (i + 1)}) = r0`);
  const bounded = r.chance(0.8);
  const within = n <= slots || r.chance(0.3);
  lines.push('l:');
  // r2 = r10 - 8 * (slots) + 8 * i : walk the array upwards.
  lines.push('r2 = r1', 'r2 <<= 3', 'r3 = r10', `r3 += -${8 * slots}`, 'r3 += r2', 'r4 = *(u64 *)(r3 + 0)', 'r0 += r4', 'r1 += 1');
  if (bounded) lines.push(`if r1 < ${within ? Math.min(n, slots) : n} goto l`);
  else lines.push('r5 = *(u32 *)(r9 + 12)', 'if r5 != 0 goto l');
  lines.push('exit');
  return { kind: `loop/${bounded ? 'bounded' : 'unbounded'}${within ? '' : '/oob'}`, progType: 6, unprivileged: false, maps: [], text: lines.join('\n') };
}

function stackRead(r: Rng): GenProgram {
  const unpriv = r.chance(0.6);
  const lines: string[] = [];
  const init = r.chance(0.5);
  const size = r.pick(SIZES);
  const off = -8 * (r.int(4) + 1);
  if (init) lines.push(r.chance(0.5) ? `*(u64 *)(r10 ${off}) = 0` : `r1 = 7\n*(u${size * 8} *)(r10 ${off}) = r1`);
  const rd = r.chance(0.8) ? off : off - 8;
  lines.push(`r0 = *(${SZ[size]} *)(r10 ${rd})`, 'r0 = 0', 'exit');
  return { kind: `stack/${init ? 'init' : 'uninit'}${unpriv ? '/unpriv' : ''}`, progType: 1, unprivileged: unpriv, maps: [], text: lines.join('\n') };
}

function aluIndex(r: Rng): GenProgram {
  // A chain of ALU operations on an unknown byte, then the result as an index into a map value.
  const vs = 64;
  const maps: MapInfo[] = [{ type: 1, keySize: 4, valueSize: vs, maxEntries: 4 }];
  const lines = ['r6 = *(u32 *)(r1 + 12)', '*(u32 *)(r10 - 4) = 0', 'r2 = r10', 'r2 += -4', 'ld_pseudo r1, 1, 0', 'call bpf_map_lookup_elem',
    'if r0 == 0 goto out', 'r1 = r6'];
  const ops = r.int(4) + 1;
  for (let i = 0; i < ops; i++) {
    const w = r.chance(0.2) ? 'w1' : 'r1';
    switch (r.int(9)) {
      case 0: lines.push(`${w} &= ${r.pick([7, 15, 31, 63, 127, 255])}`); break;
      case 1: lines.push(`${w} >>= ${r.int(8) + 1}`); break;
      case 2: lines.push(`${w} <<= ${r.int(3)}`); break;
      case 3: lines.push(`${w} += ${r.int(16)}`); break;
      case 4: lines.push(`${w} -= ${r.int(4)}`); break;
      case 5: lines.push(`${w} *= ${r.int(4)}`); break;
      case 6: lines.push(`${w} |= ${r.int(8)}`); break;
      case 7: lines.push(`${w} ^= ${r.int(8)}`); break;
      default: lines.push(`${w} %= ${r.int(60) + 1}`); break;
    }
  }
  if (r.chance(0.5)) lines.push(`if r1 > ${vs - 8 + r.int(3) - 1} goto out`);
  lines.push('r0 += r1', 'r0 = *(u8 *)(r0 + 0)', 'out:', 'r0 = 0', 'exit');
  return { kind: 'alu-index', progType: 6, unprivileged: false, maps, text: lines.join('\n') };
}

/** `n` programs for a seed, cycling through the kinds. */
export function generate(seed: number, n: number): GenProgram[] {
  const r = new Rng(seed);
  const kinds = [packet, mapAccess, loop, stackRead, aluIndex];
  const out: GenProgram[] = [];
  for (let i = 0; i < n; i++) out.push(kinds[i % kinds.length]!(r));
  return out;
}

/**
 * Programs made of many small diamonds, spills and fills, ALU steps and
 * value-dependent map accesses: they stress state pruning (precision marks,
 * stack read marks, linked registers). Verifying one with and without
 * pruning must give the same verdict.
 */
export function generatePruning(seed: number, n: number): GenProgram[] {
  const r = new Rng(seed);
  const out: GenProgram[] = [];
  for (let p = 0; p < n; p++) {
    const maps: MapInfo[] = [{ type: 1, keySize: 4, valueSize: 64, maxEntries: 4 }, { type: 2, keySize: 4, valueSize: 8, maxEntries: 4 }];
    const L: string[] = [
      'r6 = *(u32 *)(r1 + 12)', 'r7 = *(u32 *)(r1 + 16)', '*(u32 *)(r10 - 4) = 0', 'r2 = r10', 'r2 += -4',
      'ld_pseudo r1, 1, 0', 'call bpf_map_lookup_elem', 'if r0 == 0 goto end', 'r8 = r0',
      'r1 = 0', 'r2 = 1', 'r3 = r6', 'r4 = r7', 'r5 = 2', 'r9 = 3',
    ];
    const regs = ['r1', 'r2', 'r3', 'r4', 'r5', 'r9'];
    const written = new Set<number>();
    const blocks = r.int(8) + 4;
    let lbl = 0;
    for (let b = 0; b < blocks; b++) {
      const x = r.pick(regs);
      const y = r.pick(regs);
      switch (r.int(8)) {
        case 6: // straight-line padding (lets checkpoints form at the next join)
          for (let i = r.int(10); i > 0; i--) L.push('r0 = 1');
          break;
        case 7: { // a key stored narrowly, an array lookup, a dereference with or without a null check
          const s2 = `k${lbl++}`;
          L.push(`*(u32 *)(r10 - 4) = ${x}`, 'r2 = r10', 'r2 += -4', 'ld_pseudo r1, 1, 1', 'call bpf_map_lookup_elem');
          if (r.chance(0.5)) L.push(`if r0 == 0 goto ${s2}`);
          L.push('r0 = *(u8 *)(r0 + 0)', `${s2}:`, 'r1 = 0', 'r2 = 1', 'r3 = r6', 'r4 = r7', 'r5 = 2');
          break;
        }
        case 0: { // diamond
          const a = `a${lbl}`; const j = `j${lbl++}`;
          const op = r.pick(['>', '<', '==', '!=', 's>', '&']);
          const pad = r.chance(0.5) ? Array.from({ length: r.int(10) }, () => 'r0 = 1') : [];
          L.push(`if ${x} ${op} ${r.int(40)} goto ${a}`, `${y} = ${r.pick([0, r.int(70), 1000])}`, ...pad, `goto ${j}`, `${a}:`,
            r.chance(0.5) ? `${y} = ${r.pick([0, r.int(70), 1000])}` : `${y} &= ${r.pick([7, 15, 63, 127])}`, `${j}:`);
          break;
        }
        case 1: { // spill
          const k = r.int(4) + 1;
          L.push(`*(u64 *)(r10 - ${8 + 8 * k}) = ${x}`);
          written.add(k);
          break;
        }
        case 2: { // fill (of a slot written on every path so far)
          const ks = [...written];
          if (ks.length) L.push(`${x} = *(u64 *)(r10 - ${8 + 8 * r.pick(ks)})`);
          break;
        }
        case 3:
          L.push(r.chance(0.5) ? `${x} ${r.pick(['+=', '-=', '&=', '|=', '>>=', '<<='])} ${r.int(8)}` : `${x} ${r.pick(['+=', '&=', '|=', '^='])} ${y}`);
          break;
        case 4:
          L.push(`${x} = ${y}`);
          break;
        default: { // access depending on a value, checked or not
          const s = `s${lbl++}`;
          if (r.chance(0.7)) L.push(`if ${x} > ${r.pick([56, 60, 63, 64])} goto ${s}`);
          L.push('r0 = r8', `r0 += ${x}`, 'r0 = *(u8 *)(r0 + 0)', `${s}:`);
          break;
        }
      }
    }
    L.push('end:', 'r0 = 0', 'exit');
    out.push({ kind: 'pruning', progType: 6, unprivileged: false, maps, text: L.join('\n') });
  }
  return out;
}

/**
 * Random instruction sequences after a prologue that sets up every kind of
 * register (map value, packet, packet end, context, stack pointer, numbers):
 * mostly refused, for differential testing of the verifier's corners against
 * Linux and for robustness (no crash, no hang).
 */
export function generateRandom(seed: number, n: number, ops: readonly OpSpec[], format: (x: Instruction) => string): GenProgram[] {
  const r = new Rng(seed);
  const PRO = [
    '*(u64 *)(r10 - 8) = 0', '*(u64 *)(r10 - 16) = 0', 'r6 = r1', 'r2 = r10', 'r2 += -8', 'ld_pseudo r1, 1, 0',
    'call bpf_map_lookup_elem', 'if r0 == 0 goto end', 'r7 = *(u32 *)(r6 + 0)', 'r8 = *(u32 *)(r6 + 4)',
    'r9 = *(u32 *)(r6 + 12)', 'r1 = r7', 'r1 += 14', 'if r1 > r8 goto end', 'r1 = r0', 'r2 = r10', 'r2 += -16',
    'r3 = 0', 'r4 = 5', 'r5 = r9',
  ];
  const IMMS = [0, 1, -1, 8, 16, 4, 255, 0x7fffffff, -0x80000000, 64, 32, 14];
  const HELPERS = [1, 2, 3, 5, 6, 7, 14, 25, 44, 51, 130, 131, 132, 133];
  const usable = ops.filter((o) => !['exit', 'kfunc_call', 'callx', 'call_local', 'ld_abs', 'ld_ind'].includes(o.kind));
  const out: GenProgram[] = [];
  for (let p = 0; p < n; p++) {
    const len = 2 + r.int(40);
    const body: string[] = [];
    for (let j = 0; j < len; j++) {
      const op = r.pick(usable);
      const f: Record<string, number> = {
        dst: r.int(10), src: r.int(11),
        off: r.int(3) ? (r.chance(0.5) ? -8 * (1 + r.int(8)) : r.int(16)) : r.int(20) - 10,
        imm: r.chance(0.3) ? r.int(100) - (r.chance(0.3) ? 600 : 0) : r.pick(IMMS), imm2: 0,
      };
      if (op.kind === 'ld_imm64') { f['src'] = r.pick([0, 0, 1, 2]); if (f['src']) f['imm'] = r.int(2); }
      if (op.kind === 'call') f['imm'] = r.pick(HELPERS);
      if (op.kind === 'ja' || op.kind === 'jcond') { f['off'] = r.int(Math.max(1, len - j)); if (op.kind === 'ja' && !op.is64) f['imm'] = f['off']!; }
      const x: Record<string, unknown> = { op, dst: 0, src: 0, off: 0, imm: 0, imm2: 0 };
      for (const k of op.operands) x[k] = f[k];
      if (op.discr) x[op.discr.field] = op.discr.value;
      if (op.kind === 'ja' && !op.is64) x['imm'] = f['off'];
      body.push(format(x as unknown as Instruction));
    }
    const maps: MapInfo[] = [{ type: 1, keySize: 4, valueSize: 16, maxEntries: 4 }, { type: 2, keySize: 4, valueSize: 16, maxEntries: 2 }];
    out.push({ kind: 'random', progType: 6, unprivileged: false, maps, text: [...PRO, ...body, 'end:', 'r0 = 0', 'exit'].join('\n') });
  }
  return out;
}

/**
 * Random programs that mostly verify: ALU chains and compares on numbers,
 * numbers added to pointers, loads and stores through the map value, the
 * stack, the packet and the context. Disagreements with Linux here point at
 * the numeric domain (bounds, tnums, refinements) rather than at structure.
 */
export function generateValid(seed: number, n: number, unprivileged = false): GenProgram[] {
  const r = new Rng(seed);
  const PRO = [
    '*(u64 *)(r10 - 8) = 0', '*(u64 *)(r10 - 16) = 0', 'r6 = r1', 'r2 = r10', 'r2 += -8', 'ld_pseudo r1, 1, 0',
    'call bpf_map_lookup_elem', 'if r0 == 0 goto end', 'r7 = *(u32 *)(r6 + 0)', 'r8 = *(u32 *)(r6 + 4)',
    'r1 = r7', 'r1 += 32', 'if r1 > r8 goto end', 'r1 = r0', 'r2 = r10', 'r2 += -16',
    'r3 = *(u32 *)(r6 + 12)', 'r4 = *(u8 *)(r0 + 0)', 'r5 = *(u16 *)(r7 + 2)', 'r9 = *(u64 *)(r0 + 8)',
  ];
  const S = ['r3', 'r4', 'r5', 'r9'];
  const ALU = ['+=', '-=', '*=', '&=', '|=', '^=', '<<=', '>>=', 's>>=', '/=', '%='];
  const SZ = ['u8', 'u16', 'u32', 'u64'];
  const out: GenProgram[] = [];
  for (let p = 0; p < n; p++) {
    const len = 4 + r.int(30);
    const body: string[] = [];
    let lbl = 0;
    for (let j = 0; j < len; j++) {
      const d = r.pick(S);
      const w = r.chance(0.25);
      const R = (x: string): string => (w ? x.replace('r', 'w') : x);
      switch (r.int(9)) {
        case 0: case 1: { // ALU on numbers
          const op = r.pick(ALU);
          const shift = op.includes('>>') || op === '<<=';
          const imm = shift ? r.int(w ? 32 : 64) : op === '/=' || op === '%=' ? 1 + r.int(16) : r.pick([1, 3, 7, 15, 255, 0xffff, -1, -16, r.int(100)]);
          body.push(r.chance(0.6) || shift ? `${R(d)} ${op} ${imm}` : `${R(d)} ${op} ${R(r.pick(S))}`);
          break;
        }
        case 2: { // compare and skip
          const op = r.pick(['>', '>=', '<', '<=', 's>', 's<', '==', '!=', '&']);
          const l = `l${lbl++}`;
          body.push(r.chance(0.5) ? `if ${R(d)} ${op} ${r.pick([0, 1, 7, 15, 16, 63, 255, -1])} goto ${l}` : `if ${R(d)} ${op} ${R(r.pick(S))} goto ${l}`);
          body.push(`${d} = ${r.int(20)}`, `${l}:`);
          break;
        }
        case 3: { // number into the map value pointer (bounded or not), then a load
          const sz = r.pick(SZ);
          if (r.chance(0.7)) body.push(`${d} &= ${r.pick([3, 7, 8, 15])}`);
          body.push('r1 = r0', `r1 += ${d}`, `${d} = *(${sz} *)(r1 + 0)`);
          break;
        }
        case 4: { // stack store and load
          const sz = r.pick(SZ);
          const size = sz === 'u8' ? 1 : sz === 'u16' ? 2 : sz === 'u32' ? 4 : 8;
          const off = -size * (1 + r.int(16 / size));
          body.push(`*(${sz} *)(r2 ${off >= -16 ? off + 16 >= 0 ? '+ ' + (off + 16) : '- ' + -(off + 16) : off}) = ${d}`.replace('+ 0)', '+ 0)'));
          body.push(`${r.pick(S)} = *(${sz} *)(r10 ${off})`);
          break;
        }
        case 5: { // packet load at a checked offset (or one past)
          const sz = r.pick(SZ);
          const size = sz === 'u8' ? 1 : sz === 'u16' ? 2 : sz === 'u32' ? 4 : 8;
          body.push(`${d} = *(${sz} *)(r7 + ${r.chance(0.9) ? r.int(33 - size) : 33 - size})`);
          break;
        }
        case 6: // context read
          body.push(`${d} = *(u32 *)(r6 + ${r.pick([0, 4, 8, 12, 16])})`.replace(/\(r6 \+ (0|4)\)/, '(r6 + 12)'));
          break;
        case 7: // copies (linked registers)
          body.push(`${d} = ${r.pick(S)}`);
          break;
        default: // map value store at a fixed offset
          body.push(`*(${r.pick(SZ)} *)(r0 + ${r.pick([0, 4, 8])}) = ${d}`);
          break;
      }
    }
    const maps: MapInfo[] = [{ type: 1, keySize: 4, valueSize: 16, maxEntries: 4 }];
    let text = [...PRO, ...body, 'end:', 'r0 = 2', 'exit'].join('\n');
    if (unprivileged) {
      // A socket filter without privileges has no packet pointers: r7 points at initialised stack instead.
      text = text
        .replace('r7 = *(u32 *)(r6 + 0)\nr8 = *(u32 *)(r6 + 4)\nr1 = r7\nr1 += 32\nif r1 > r8 goto end\n',
          '*(u64 *)(r10 - 24) = 0\n*(u64 *)(r10 - 32) = 0\n*(u64 *)(r10 - 40) = 0\n*(u64 *)(r10 - 48) = 0\n*(u64 *)(r10 - 56) = 0\nr7 = r10\nr7 += -56\n')
        .replace(/r6 \+ (0|4|8|12|16)\)/g, 'r6 + 0)');
    }
    out.push({ kind: 'valid', progType: unprivileged ? 1 : 6, unprivileged, maps, text });
  }
  return out;
}

export interface HelperCallProgram extends GenProgram {
  /** Instructions (callback offsets resolved), when the text assembled. */
  readonly helper: number;
}

/**
 * One helper call each, with arguments mostly of the kinds its prototype
 * wants (stack buffers, map values, maps of every type, the context, NULL,
 * constant sizes, a callback) and sometimes not: for differential testing
 * of the helper argument checks. `FUNC` in the text stands for the offset of
 * the callback at the end (resolve with resolveFunc).
 */
export function generateHelperCalls(seed: number, n: number, protos: ReadonlyArray<{ id: number; args: readonly string[] }>): HelperCallProgram[] {
  const r = new Rng(seed);
  const maps: MapInfo[] = [
    { type: 1, keySize: 4, valueSize: 8, maxEntries: 4 }, { type: 2, keySize: 4, valueSize: 16, maxEntries: 4 },
    { type: 27, keySize: 0, valueSize: 0, maxEntries: 4096 }, { type: 3, keySize: 4, valueSize: 4, maxEntries: 4 },
    { type: 4, keySize: 4, valueSize: 4, maxEntries: 4 }, { type: 22, keySize: 0, valueSize: 8, maxEntries: 4 },
    { type: 14, keySize: 4, valueSize: 4, maxEntries: 4 },
  ];
  const any = (): [string, number] => r.pick([
    ['r10', -16], ['r10', -8], ['r10', -64], ['map', 0], ['map', 1], ['map', 2], ['map', 3], ['map', 4], ['map', 5], ['map', 6],
    ['ctx', 0], ['imm', 0], ['imm', 4], ['imm', 8], ['imm', 16], ['imm', 64], ['imm', -1], ['mapval', 0], ['func', 0], ['r10', -32],
  ] as Array<[string, number]>);
  const good = (t: string): [string, number] => {
    switch (t) {
      case 'map_ptr': return ['map', r.int(maps.length)];
      case 'map_key': case 'map_value': case 'uninit_map_value': return r.pick([['r10', -16], ['mapval', 0]] as Array<[string, number]>);
      case 'ctx': return ['ctx', 0];
      case 'mem': case 'mem_or_null': return r.pick([['r10', -16], ['mapval', 0], ['imm', 0]] as Array<[string, number]>);
      case 'uninit_mem': return r.pick([['r10', -16], ['r10', -32], ['mapval', 0]] as Array<[string, number]>);
      case 'size': case 'size_or_zero': case 'alloc_size': return ['imm', r.pick([0, 4, 8, 16, 64])];
      case 'func': return ['func', 0];
      case 'stack_or_null': return r.pick([['r10', -16], ['imm', 0]] as Array<[string, number]>);
      default: return ['imm', r.pick([0, 1, 4])];
    }
  };
  const out: HelperCallProgram[] = [];
  for (let i = 0; i < n; i++) {
    const progType = r.pick([1, 3, 6, 2]);
    const p = r.pick(protos);
    const L = ['r9 = r1', '*(u64 *)(r10 - 8) = 0', '*(u64 *)(r10 - 16) = 0', 'r2 = r10', 'r2 += -8', 'ld_pseudo r1, 1, 1',
      'call bpf_map_lookup_elem', 'r8 = r0', 'if r8 == 0 goto end'];
    for (let a = 1; a <= 5; a++) {
      const t = p.args[a - 1];
      const [k, v] = t && r.chance(0.9) ? good(t) : any();
      switch (k) {
        case 'r10': L.push(`r${a} = r10`, `r${a} += ${v}`); break;
        case 'map': L.push(`ld_pseudo r${a}, 1, ${v}`); break;
        case 'ctx': L.push(`r${a} = r9`); break;
        case 'imm': L.push(`r${a} = ${v}`); break;
        case 'mapval': L.push(`r${a} = r8`); break;
        default: L.push(`ld_pseudo r${a}, 4, FUNC`); break;
      }
    }
    L.push(`call ${p.id}`, 'end:', 'r0 = 0', 'exit');
    if (L.some((l) => l.includes('FUNC'))) L.push('r0 = 0', 'exit'); // the callback
    out.push({ kind: 'helper', progType, unprivileged: false, maps, text: L.join('\n'), helper: p.id });
  }
  return out;
}

/** Instructions of a generated text where `FUNC` is the callback at the last two instructions. */
export function resolveFunc(insns: Instruction[]): Instruction[] {
  const slots: number[] = [];
  let s = 0;
  for (const x of insns) { slots.push(s); s += x.op.kind === 'ld_imm64' ? 2 : 1; }
  const cb = s - 2;
  return insns.map((x, j) => (x.op.kind === 'ld_imm64' && x.src === 4 ? { ...x, imm: cb - slots[j]! - 1 } : x));
}
