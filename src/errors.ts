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
    ['DecodeError', 'AsmError', 'RuntimeFault', 'ElfError', 'VerifierError', 'PcapError', 'MapError', 'LoadError', 'MemoryError', 'ValidationError']
      .includes((e as { name?: string }).name ?? '');
}
