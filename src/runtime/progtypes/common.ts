// Small pieces shared by the program types: blocks of linear memory with an
// unmapped guard after them, regions that follow a moving packet, and the
// byte helpers of context structs.

import { TestRunError } from '../../errors.js';
import type { LinearMemory } from '../memory.js';

/** Unmapped bytes left after every block, so an overrun faults in checked mode. */
export const GUARD = 64;

/** A region that can be moved (packet after adjust_head, ...). */
export class MovableRegion {
  private start = -1;
  constructor(private readonly memory: LinearMemory, private readonly name: string, private readonly writable: boolean) {}

  /** Cover [start, end) (nothing when empty). */
  set(start: number, end: number): void {
    this.clear();
    if (end > start) {
      this.memory.addRegion(start, end - start, this.name, this.writable);
      this.start = start;
    }
  }

  clear(): void {
    if (this.start >= 0) this.memory.removeRegion(this.start);
    this.start = -1;
  }
}

/** A copy of `ctx_in` padded (or cut) to `size` bytes; longer input is refused like the kernel does for non-zero tails. */
export function ctxBytes(ctx: Uint8Array | undefined, size: number, type: string): Uint8Array {
  const out = new Uint8Array(size);
  if (!ctx) return out;
  if (ctx.length > size) {
    for (let i = size; i < ctx.length; i++) {
      if (ctx[i] !== 0) throw new TestRunError('TESTRUN_CTX', `${type}: ctx_in is ${ctx.length} bytes, the context is ${size}; bytes past it must be zero`, 22);
    }
  }
  out.set(ctx.subarray(0, Math.min(size, ctx.length)));
  return out;
}

export function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function setU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

export function u64(b: Uint8Array, off: number): bigint {
  return BigInt(u32(b, off)) | (BigInt(u32(b, off + 4)) << 32n);
}

export function setU64(b: Uint8Array, off: number, v: bigint): void {
  setU32(b, off, Number(v & 0xffffffffn));
  setU32(b, off + 4, Number((v >> 32n) & 0xffffffffn));
}

/** Refuse a context field that must be zero in ctx_in (the kernel's EINVAL). */
export function mustBeZero(ctx: Uint8Array, off: number, size: number, type: string, field: string): void {
  for (let i = off; i < off + size; i++) {
    if (ctx[i] !== 0) throw new TestRunError('TESTRUN_CTX', `${type}: ctx_in field '${field}' must be 0 (the kernel refuses it with EINVAL)`, 22);
  }
}
