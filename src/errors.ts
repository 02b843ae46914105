// Typed errors shared by every layer. Recognise them by `name` or `code`,
// not by `instanceof` (errors cross realms: workers, bundles, the browser).

export class TsbpfError extends Error {
  /** Stable machine-readable code, e.g. `ASM_SYNTAX`, `DECODE_OPCODE`. */
  readonly code: string;
  constructor(name: string, code: string, message: string) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

/** Bytecode that cannot be decoded or is not a valid instruction; `index` is the slot. */
export class DecodeError extends TsbpfError {
  constructor(code: string, message: string, readonly index: number) {
    super('DecodeError', code, `insn ${index}: ${message}`);
  }
}

/** Assembler input that is not a valid program. `line`/`column` are 1-based. */
export class AsmError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly sourceLine: string,
    readonly length = 1,
  ) {
    super('AsmError', code, `${line}:${column}: ${reason}`);
  }
  /** The source line with a caret under the offending text. */
  get excerpt(): string {
    const pad = this.sourceLine.slice(0, this.column - 1).replace(/[^\t]/g, ' ');
    return `${this.sourceLine}\n${pad}^${'~'.repeat(Math.max(0, this.length - 1))}`;
  }
}

/** A run that ended because the program did something it may not. */
export class RuntimeFault extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    /** Slot index of the faulting instruction. */
    readonly pc: number,
    readonly address?: number,
    readonly region?: string,
  ) {
    super('RuntimeFault', code, `insn ${pc}: ${reason}`);
  }
}

/**
 * A capture (pcap/pcapng) that cannot be read or written. `record` is the
 * 0-based index of the packet record being read (the number of packets
 * delivered before the damage); `offset` is the byte offset in the input of the
 * record or block at fault.
 */
export class PcapError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly record: number,
    readonly offset: number,
  ) {
    super('PcapError', code, `record ${record} (byte ${offset}): ${reason}`);
  }
}

/**
 * A map operation refused the way the kernel's bpf(2) would refuse it.
 * `code` is the errno name ('E2BIG', 'EEXIST', 'ENOENT', 'EINVAL', ...),
 * `errno` its number, `map` the map's name, `count` (batch operations) how
 * many elements were processed before the failure.
 */
export class MapError extends TsbpfError {
  constructor(
    code: string,
    readonly errno: number,
    readonly reason: string,
    readonly map?: string,
    readonly count?: number,
  ) {
    super('MapError', code, `${map !== undefined ? `map '${map}': ` : ''}${reason} (${code})`);
  }
}

/** Linear-memory misuse by the host: exhausted, bad free, access outside the memory. */
export class MemoryError extends TsbpfError {
  constructor(code: string, readonly reason: string) {
    super('MemoryError', code, reason);
  }
}

/** A raw program refused before it runs (bad jump target, unreachable code, ...); `index` is the slot. */
export class ValidationError extends TsbpfError {
  constructor(code: string, readonly reason: string, readonly index: number) {
    super('ValidationError', code, `insn ${index}: ${reason}`);
  }
}

/**
 * An ELF object (or its BTF) that cannot be read. `section` names the ELF
 * section (or `'ELF header'`, `'.BTF'`, ...), `offset` the byte offset inside
 * it where reading failed, when known.
 */
export class ElfError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly section?: string,
    readonly offset?: number,
  ) {
    super('ElfError', code, (section !== undefined ? `${section}${offset !== undefined ? `+0x${offset.toString(16)}` : ''}: ` : '') + reason);
  }
  /** The same error with `context: ` in front of its message (cilium/ebpf-style pass wrapping). */
  withContext(context: string): ElfError {
    const e = new ElfError(this.code, `${context}: ${this.reason}`, this.section, this.offset);
    e.stack = this.stack;
    return e;
  }
}

export function isTsbpfError(e: unknown): e is TsbpfError {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' &&
    ['DecodeError', 'AsmError', 'RuntimeFault', 'ElfError', 'VerifierError', 'PcapError', 'MapError', 'LoadError', 'MemoryError', 'ValidationError', 'TestRunError', 'HookError']
      .includes((e as { name?: string }).name ?? '');
}

/** One branch decision on the way to a verifier rejection: the jump at `pc` was (or was not) taken. */
export interface VerifierPathStep {
  readonly pc: number;
  readonly taken: boolean;
}

/**
 * The verifier refused a program. `pc` is the slot index of the instruction
 * (as the kernel log numbers them), `source` the C source line when line info
 * is known, `regs` the register state that matters (kernel log notation),
 * `path` the branch decisions that led there, `hint` a one-line usual fix.
 * Codes are listed in docs/verifier.md.
 */
export class VerifierError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly pc: number,
    readonly details: {
      readonly source?: { readonly file?: string; readonly line?: number; readonly column?: number; readonly text?: string };
      readonly regs?: string;
      readonly path?: readonly VerifierPathStep[];
      readonly hint?: string;
      readonly insn?: string;
    } = {},
  ) {
    super('VerifierError', code, pc >= 0 ? `insn ${pc}: ${reason}` : reason);
  }
  get source(): { file?: string; line?: number; column?: number; text?: string } | undefined { return this.details.source; }
  get regs(): string | undefined { return this.details.regs; }
  get path(): readonly VerifierPathStep[] { return this.details.path ?? []; }
  get hint(): string | undefined { return this.details.hint; }
}

/**
 * A program that cannot be made live: an unknown helper, a helper its
 * program type may not call, a map reference to no map, a tail-call slot
 * naming no program. `program` is the program's name, `pc` the slot of the
 * instruction at fault (-1 when none).
 */
export class LoadError extends TsbpfError {
  constructor(code: string, readonly reason: string, readonly program?: string, readonly pc = -1) {
    super('LoadError', code, `${program !== undefined ? `program '${program}'` : 'load'}${pc >= 0 ? ` insn ${pc}` : ''}: ${reason}`);
  }
}

/**
 * Test-run input the kernel's BPF_PROG_TEST_RUN refuses too (a packet
 * shorter than an Ethernet header, a context field it does not accept...).
 * `errno` is what the kernel returns (EINVAL = 22, ENOSPC = 28, ...).
 */
export class TestRunError extends TsbpfError {
  constructor(code: string, readonly reason: string, readonly errno = 22) {
    super('TestRunError', code, reason);
  }
}

/**
 * A host-defined hook refused a definition, a value or a program, or a
 * program attached to it failed while running. `hook` is the hook's name,
 * `program` the program's (when one is involved); `cause` carries the
 * underlying error (a RuntimeFault for a fault or an exhausted budget, a
 * VerifierError for a program refused at attach).
 */
export class HookError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly hook: string,
    readonly program?: string,
    override readonly cause?: unknown,
  ) {
    super('HookError', code, `hook '${hook}'${program !== undefined ? ` program '${program}'` : ''}: ${reason}`);
  }
}
