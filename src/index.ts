// Public API of tsbpf. The core (no node: modules) is re-exported from core.ts.
export * from './core.js';
