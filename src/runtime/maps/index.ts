// eBPF maps in linear memory: see types.ts for the interface and the handle
// (descriptor) layout.
export * from './types.js';
export { createMap, mapFromHandle } from './create.js';
