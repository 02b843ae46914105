// Shared pieces of the object commands (prog list, disasm FILE.o,
// test-run, map dump): option parsing, file reading, error reporting.
// Each command reports its own errors: one line on stderr, exit 1; usage
// errors exit 2.

import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isTsbpfError } from '../errors.js';
import { type ObjectSpec, loadObject } from '../elf/object.js';
import type { Io } from './main.js';

export class CmdUsageError extends Error {}
export class CmdError extends Error {}

export type OptSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export function parseCmd(cmd: string, args: readonly string[], options: OptSpec): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    throw new CmdUsageError(`${cmd}: ${msg}`);
  }
}

export function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function strs(v: Values[string]): string[] {
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}

export function readFile(file: string): Uint8Array {
  try {
    if (statSync(file).isDirectory()) throw new CmdError(`${file}: is a directory`);
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    if (e instanceof CmdError) throw e;
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : e instanceof Error ? e.message : String(e);
    throw new CmdError(`${file}: ${why}`);
  }
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Whether the first positional argument of a command line names an ELF file (for `disasm`). */
export function firstFileIsElf(args: readonly string[]): boolean {
  const f = args.find((a) => !a.startsWith('-'));
  if (f === undefined) return false;
  try {
    const b = readFileSync(f);
    return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  } catch {
    return false;
  }
}

/** Read and parse an object; an ElfError becomes one line naming the file. */
export function readSpec(file: string): ObjectSpec {
  const bytes = readFile(file);
  if (!isElf(bytes)) throw new CmdError(`${file}: not an ELF object`);
  try {
    return loadObject(bytes);
  } catch (e) {
    if (isTsbpfError(e)) throw new CmdError(`${file}: ${e.message}`);
    throw e;
  }
}

export function parseHex(s: string, what: string): Uint8Array {
  const h = s.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new CmdUsageError(`${what}: '${s}' is not a sequence of hex bytes`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Run a command body, turning its failures into the CLI's one-line errors and exit codes. */
export function guard(cmd: string, io: Io, body: () => number): number {
  try {
    return body();
  } catch (e) {
    if (e instanceof CmdUsageError) {
      io.stderr(`tsbpf: ${e.message}\nusage: see 'tsbpf ${cmd} --help'\n`);
      return 2;
    }
    if (e instanceof CmdError) {
      io.stderr(`tsbpf: error: ${e.message}\n`);
      return 1;
    }
    if (isTsbpfError(e)) {
      io.stderr(`tsbpf: error: ${e.message.split('\n')[0]}\n`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`tsbpf: internal error: ${msg}\n`);
    if (io.env['TSBPF_DEBUG'] && e instanceof Error && e.stack) io.stderr(e.stack + '\n');
    return 1;
  }
}

/** A hex dump: 16 bytes a line, offset first. */
export function hexDump(b: Uint8Array, indent = '  '): string {
  let out = '';
  for (let i = 0; i < b.length; i += 16) {
    const row = Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0'));
    out += `${indent}${i.toString(16).padStart(4, '0')}: ${row.slice(0, 8).join(' ')}${row.length > 8 ? '  ' + row.slice(8).join(' ') : ''}\n`;
  }
  return out;
}
