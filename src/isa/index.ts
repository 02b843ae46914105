export * from './opcodes.js';
export * from './table.js';
export * from './instruction.js';
