export * from './opcodes.js';
export * from './table.js';
export * from './instruction.js';
export * from './helper-names.js';
export { assemble, type AsmOptions } from './asm.js';
export { disassemble, formatInstruction, type DisasmOptions, type FormatOptions } from './disasm.js';
