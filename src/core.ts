// Everything that runs in a browser as well as in Node.js.
export * from './errors.js';
export * from './isa/index.js';
export * as net from './net/index.js';
export * from './elf/index.js';
