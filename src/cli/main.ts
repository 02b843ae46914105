// The `tsbpf` command (node only).
//
//   tsbpf asm FILE [-o OUT]            assemble text to raw bytecode
//   tsbpf disasm FILE [--bytes]        raw bytecode to llvm-objdump-style text
//   tsbpf run-raw FILE [...]           run a raw program (bytecode or asm text)
//   tsbpf conformance [DIR] [...]      run a bpf_conformance directory
//
// Errors are one line on stderr (`tsbpf: error: ...`, plus the caret excerpt
// of an assembler error), exit code 1; usage errors exit 2. No stack traces
// (set TSBPF_DEBUG=1 to get them for internal errors).

import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type TsbpfError, isTsbpfError } from '../errors.js';
import { assemble } from '../isa/asm.js';
import { disassemble, formatInstruction } from '../isa/disasm.js';
import { type Instruction, decode, encode, slotIndices } from '../isa/instruction.js';
import { judge, parseConformance, runCase } from '../runtime/conformance.js';
import { runRaw } from '../runtime/raw.js';
import { firstFileIsElf } from './cmd-common.js';
import { cmdDisasmObject, cmdProg } from './cmd-prog.js';
import { cmdMap, cmdTestRun } from './cmd-testrun.js';
import { RUN_HELP, cmdRun } from './cmd-run.js';
import { VERIFY_HELP, cmdVerify } from './cmd-verify.js';

export interface Io {
  readonly stdout: (s: string | Uint8Array) => void;
  readonly stderr: (s: string) => void;
  /** Whether stdout is a terminal (binary output then goes to a file). */
  readonly stdoutIsTty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Raised for bad command lines: printed with a usage hint, exit code 2. */
class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** A failure already phrased for the user: printed as is, exit code 1. */
class CliError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

const HELP: Record<string, string> = {
  run: RUN_HELP,
  verify: VERIFY_HELP,
  main: `tsbpf: eBPF in TypeScript

usage: tsbpf <command> [options]

commands:
  asm FILE [-o OUT]          assemble eBPF text to raw bytecode
  disasm FILE [--bytes]      disassemble raw bytecode (llvm-objdump style)
  run-raw FILE [options]     run a raw program (bytecode or .s/.asm text)
  conformance [DIR] [opts]   run a bpf_conformance test directory
  prog list FILE.o [--json]  list the programs of a BPF object
  disasm FILE.o [--program P]  disassemble an object with its C source lines
  test-run FILE.o [options]  run a program like BPF_PROG_TEST_RUN (bpftool prog run)
  map dump FILE.o [--map M]  print the maps of a loaded object
  run FILE.o --pcap IN       replay a capture through an XDP, TC or socket-filter program
  verify FILE.o [options]    verify programs as the kernel would, explaining refusals
  help [COMMAND]             show help for a command

'tsbpf COMMAND --help' shows the options of a command.
`,
  asm: `usage: tsbpf asm FILE [-o OUT]

Assemble FILE (uBPF/bpf_conformance mnemonics or LLVM syntax, mixed freely)
into raw little-endian bytecode, 8 bytes per instruction slot.

Output: -o OUT writes OUT ('-o -' is stdout). Without -o the bytecode goes to
stdout when stdout is not a terminal (a pipe or a redirection), otherwise to
FILE with its extension replaced by .bin (prog.s -> prog.bin).
`,
  disasm: `usage: tsbpf disasm FILE [--bytes]

Print raw bytecode FILE in llvm-objdump's syntax, one instruction per line,
prefixed with its slot index.

  --bytes   also print the 8 (or 16, for lddw) instruction bytes
`,
  'run-raw': `usage: tsbpf run-raw FILE [--mem HEX | --mem-file F] [--engine interp|jit] [--budget N] [--unchecked] [--json]

Run a raw program: bytecode (.bin, .o, or anything not text) or assembler text
(.s, .asm, or text content). The program gets R1 = address of a copy of the
input memory, R2 = its length, R10 = top of a 512-byte stack, and runs in
checked mode. Prints R0 as 0x... (bpf_trace_printk output goes to stderr).

  --mem HEX        input memory as hex bytes ("aa bb cc" or "aabbcc")
  --mem-file F     input memory from file F (raw bytes)
  --engine E       interp (default, the reference interpreter) or jit
                   (compiled to WebAssembly)
  --budget N       instruction budget (default 4000000)
  --unchecked      skip validation and per-access checks (trusted programs only)
  --json           print {"r0": "0x...", "mem": "<hex>", "insn_count": N}
`,
  conformance: `usage: tsbpf conformance [DIR] [--engine interp|jit] [--negative] [--verbose] [--json]

Run every *.data file of a bpf_conformance directory: assemble '-- asm' (or
decode '-- raw', preferred), run with '-- mem' as input memory, and compare R0
with '-- result' as a 64-bit value. Helper 5 is the suite's 'unwind' helper.
Prints one line per failure, then 'N passed, M failed'; exit code 1 when M > 0.

DIR defaults to $BPF_CONFORMANCE_DIR/tests (or /negative with --negative).

  --negative   every file must be refused (assembler error, decode or
               validation refusal, fault) or give another result than stated
  --verbose    print every file with the reason it passed or failed
  --engine E   interp (default) or jit (WebAssembly)
  --json       print {"passed": N, "failed": M, "results": [...]} instead
`,
};

function nodeIo(): Io {
  return {
    stdout: (s) => { process.stdout.write(s); },
    stderr: (s) => { process.stderr.write(s); },
    stdoutIsTty: process.stdout.isTTY === true,
    env: process.env,
  };
}

/** Run the command line `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = nodeIo()): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
        io.stderr(HELP.main!);
        return 2;
      case '-h': case '--help':
        io.stdout(HELP.main!);
        return 0;
      case 'help': {
        const topic = rest[0];
        if (topic !== undefined && !(topic in HELP && topic !== 'main')) throw new UsageError(`unknown command '${topic}'`);
        io.stdout(HELP[topic ?? 'main']!);
        return 0;
      }
      case '--version': case '-V':
        io.stdout('tsbpf 0.1.0\n');
        return 0;
      case 'asm': return cmdAsm(rest, io);
      case 'disasm': return firstFileIsElf(rest) ? cmdDisasmObject(rest, io) : cmdDisasm(rest, io);
      case 'prog': return cmdProg(rest, io);
      case 'test-run': return cmdTestRun(rest, io);
      case 'run': return await cmdRun(rest, io);
      case 'verify': return cmdVerify(rest, io);
      case 'map': return cmdMap(rest, io);
      case 'run-raw': return cmdRunRaw(rest, io);
      case 'conformance': return cmdConformance(rest, io);
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    return report(e, io, cmd);
  }
}

function report(e: unknown, io: Io, cmd: string | undefined): number {
  if (e instanceof UsageError) {
    const c = e.command ?? (cmd && cmd in HELP ? cmd : undefined);
    io.stderr(`tsbpf: ${e.message}\n${c ? `usage: see 'tsbpf ${c} --help'` : "usage: see 'tsbpf --help'"}\n`);
    return 2;
  }
  if (e instanceof CliError) {
    io.stderr(`tsbpf: error: ${e.message}\n${e.detail ? e.detail + '\n' : ''}`);
    return 1;
  }
  if (isTsbpfError(e)) {
    io.stderr(`tsbpf: error: ${e.message}\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  io.stderr(`tsbpf: internal error: ${msg}\n`);
  if (io.env.TSBPF_DEBUG && e instanceof Error && e.stack) io.stderr(e.stack + '\n');
  return 1;
}

// ---- argument parsing -----------------------------------------------------

type OptSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse(cmd: string, args: readonly string[], options: OptSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    throw new UsageError(`${cmd}: ${msg}`, cmd);
  }
}

function onePositional(cmd: string, pos: string[], what = 'FILE'): string {
  if (pos.length === 0) throw new UsageError(`${cmd}: missing ${what}`, cmd);
  if (pos.length > 1) throw new UsageError(`${cmd}: unexpected argument '${pos[1]}'`, cmd);
  return pos[0]!;
}

function readInput(file: string): Uint8Array {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new CliError(`${file}: is a directory`);
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: ${fsReason(e)}`);
  }
}

function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'not a directory';
    default: return e instanceof Error ? e.message : String(e);
  }
}

/** Decorate a typed error with the file name (and the caret excerpt for AsmError). */
function located(file: string, e: unknown, insns?: readonly Instruction[]): unknown {
  if (!isTsbpfError(e)) return e;
  const err = e as TsbpfError & Record<string, unknown>;
  if (err.name === 'AsmError') {
    const excerpt = (err as unknown as { excerpt: string }).excerpt;
    return new CliError(`${file}:${err.line as number}:${err.column as number}: ${err.reason as string}`, excerpt);
  }
  if (err.name === 'RuntimeFault' && insns) {
    const pc = err.pc as number;
    const idx = slotIndices(insns);
    const i = idx.indexOf(pc);
    const text = i >= 0 && i < insns.length ? `; instruction: ${formatInstruction(insns[i]!)}` : '';
    return new CliError(`${file}: ${err.message}${text}`);
  }
  return new CliError(`${file}: ${err.message}`);
}

// ---- program input ----------------------------------------------------------

function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return true;
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) return false;
  }
  return true;
}

/** Instructions of FILE: assembled if text (.s/.asm or text content), decoded if bytecode. */
function loadProgram(file: string): Instruction[] {
  const bytes = readInput(file);
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    throw new CliError(`${file}: is an ELF object; run-raw takes raw bytecode or assembler text`);
  }
  const ext = extname(file).toLowerCase();
  const text = ext === '.s' || ext === '.asm' || (ext !== '.bin' && ext !== '.o' && looksLikeText(bytes));
  try {
    return text ? assemble(new TextDecoder().decode(bytes)) : decode(bytes);
  } catch (e) {
    throw located(file, e);
  }
}

// ---- commands ---------------------------------------------------------------

function cmdAsm(args: readonly string[], io: Io): number {
  const { values, positionals } = parse('asm', args, { output: { type: 'string', short: 'o' } });
  if (values.help) { io.stdout(HELP.asm!); return 0; }
  const file = onePositional('asm', positionals);
  const src = new TextDecoder().decode(readInput(file));
  let bytes: Uint8Array;
  try {
    bytes = encode(assemble(src));
  } catch (e) {
    throw located(file, e);
  }
  let out = values.output as string | undefined;
  if (out === undefined) out = io.stdoutIsTty ? join(dirnameOf(file), basename(file, extname(file)) + '.bin') : '-';
  if (out !== '-' && resolve(out) === resolve(file)) {
    throw new CliError(`${file}: refusing to overwrite the input with its bytecode; give -o OUT`);
  }
  if (out === '-') {
    io.stdout(bytes);
  } else {
    try {
      writeFileSync(out, bytes);
    } catch (e) {
      throw new CliError(`${out}: ${fsReason(e)}`);
    }
    io.stderr(`wrote ${bytes.length / 8} slots (${bytes.length} bytes) to ${out}\n`);
  }
  return 0;
}

function dirnameOf(file: string): string {
  const b = basename(file);
  return file.length > b.length ? file.slice(0, file.length - b.length) : '.';
}

function cmdDisasm(args: readonly string[], io: Io): number {
  const { values, positionals } = parse('disasm', args, { bytes: { type: 'boolean' } });
  if (values.help) { io.stdout(HELP.disasm!); return 0; }
  const file = onePositional('disasm', positionals);
  const bytes = readInput(file);
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    throw new CliError(`${file}: ELF objects are not supported by disasm yet; give raw bytecode`);
  }
  let text: string;
  try {
    text = disassemble(decode(bytes), { showRaw: values.bytes === true });
  } catch (e) {
    throw located(file, e);
  }
  io.stdout(text);
  return 0;
}

function parseHex(s: string, what: string): Uint8Array {
  const h = s.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new UsageError(`${what}: '${s}' is not a sequence of hex bytes`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkEngine(cmd: string, engine: string | undefined): 'interp' | 'jit' {
  if (engine === undefined || engine === 'interp') return 'interp';
  if (engine === 'jit') return 'jit';
  throw new UsageError(`${cmd}: unknown engine '${engine}' (interp or jit)`, cmd);
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function cmdRunRaw(args: readonly string[], io: Io): number {
  const { values, positionals } = parse('run-raw', args, {
    mem: { type: 'string' }, 'mem-file': { type: 'string' }, engine: { type: 'string' },
    budget: { type: 'string' }, json: { type: 'boolean' }, unchecked: { type: 'boolean' },
  });
  if (values.help) { io.stdout(HELP['run-raw']!); return 0; }
  const file = onePositional('run-raw', positionals);
  const engine = checkEngine('run-raw', values.engine as string | undefined);
  if (values.mem !== undefined && values['mem-file'] !== undefined) throw new UsageError('run-raw: give --mem or --mem-file, not both', 'run-raw');
  let budget: number | undefined;
  if (values.budget !== undefined) {
    budget = Number(values.budget);
    if (!Number.isInteger(budget) || budget <= 0) throw new UsageError(`run-raw: --budget must be a positive integer, not '${values.budget as string}'`, 'run-raw');
  }
  const mem = values.mem !== undefined ? parseHex(values.mem as string, '--mem')
    : values['mem-file'] !== undefined ? readInput(values['mem-file'] as string) : new Uint8Array(0);
  const insns = loadProgram(file);
  const unchecked = values.unchecked === true;
  let r;
  try {
    r = runRaw(insns, { mem, budget, engine, checked: !unchecked, validate: !unchecked, log: (l) => io.stderr(l.endsWith('\n') ? l : l + '\n') });
  } catch (e) {
    throw located(file, e, insns);
  }
  const r0 = '0x' + r.r0.toString(16);
  if (values.json) io.stdout(JSON.stringify({ r0, mem: toHex(r.mem), insn_count: r.insnCount }) + '\n');
  else io.stdout(r0 + '\n');
  return 0;
}

function cmdConformance(args: readonly string[], io: Io): number {
  const { values, positionals } = parse('conformance', args, {
    engine: { type: 'string' }, negative: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' },
  });
  if (values.help) { io.stdout(HELP.conformance!); return 0; }
  if (positionals.length > 1) throw new UsageError(`conformance: unexpected argument '${positionals[1]}'`, 'conformance');
  const engine = checkEngine('conformance', values.engine as string | undefined);
  const negative = values.negative === true;
  let dir = positionals[0];
  if (dir === undefined) {
    const base = io.env.BPF_CONFORMANCE_DIR;
    if (!base) throw new UsageError('conformance: missing DIR (or set BPF_CONFORMANCE_DIR)', 'conformance');
    dir = join(base, negative ? 'negative' : 'tests');
  }
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new CliError(`${dir}: not a directory`);
    names = readdirSync(dir).filter((n) => n.endsWith('.data')).sort();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${dir}: ${fsReason(e)}`);
  }
  if (names.length === 0) throw new CliError(`${dir}: no .data files`);
  let passed = 0;
  let failed = 0;
  const results: Array<{ file: string; pass: boolean; reason: string; r0?: string }> = [];
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch (e) {
      throw new CliError(`${join(dir, name)}: ${fsReason(e)}`);
    }
    const c = parseConformance(text);
    const outcome = runCase(c, { engine });
    const v = judge(c, outcome, negative);
    if (v.pass) passed++; else failed++;
    if (values.json) {
      results.push({ file: name, pass: v.pass, reason: v.reason, ...(outcome.kind === 'ran' ? { r0: '0x' + outcome.r0.toString(16) } : {}) });
    } else if (!v.pass) {
      io.stdout(`FAIL ${name}: ${v.reason}\n`);
    } else if (values.verbose) {
      io.stdout(`pass ${name}: ${v.reason}\n`);
    }
  }
  if (values.json) io.stdout(JSON.stringify({ passed, failed, results }, null, 1) + '\n');
  else io.stdout(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
