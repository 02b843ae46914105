// The elf layer: BPF ELF objects -> ObjectSpec (programs, maps, BTF,
// variables), with no side effects.
export * from './elf.js';
export * from './btf.js';
export * from './btf_ext.js';
export * from './corerelo.js';
export * from './progtypes.js';
export * from './maps.js';
export * from './variables.js';
export * from './externs.js';
export * from './object.js';
export { ByteReader, toHex, fromHex } from './reader.js';
export * from './annotate.js';
