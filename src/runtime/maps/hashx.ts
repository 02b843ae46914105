// Hash maps whose values are handles: hash_of_maps (inner map handles) and
// devmap_hash (redirect targets). Same layout as hash.ts.

import type { LinearMemory } from '../memory.js';
import { mapById, mapFromHandle } from './base.js';
import { innerMatches, u32bytes } from './array.js';
import { HashMap } from './hash.js';
import { mapHash } from './hashfn.js';
import {
  type BpfMap, type BpfMapOfMaps, type BpfRedirectMap, type MapCreateOptions, type MapCreateSpec,
  BPF_ANY, ERRNO,
} from './types.js';

function u32le(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** BPF_MAP_TYPE_HASH_OF_MAPS: values are inner map handles (user space sees map ids). */
export class HashOfMapsMap extends HashMap implements BpfMapOfMaps {
  readonly template: MapCreateSpec;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions, template: MapCreateSpec) {
    super(memory, spec, opts);
    this.template = template;
  }

  /** A program gets the inner map handle itself (or NULL). */
  override lookupElem(keyAddr: number, cpu: number): number {
    const a = super.lookupElem(keyAddr, cpu);
    return a === 0 ? 0 : this.memory.view.getUint32(a, true);
  }

  override updateElem(): number {
    return -ERRNO.EINVAL;
  }

  override deleteElem(): number {
    return -ERRNO.EINVAL;
  }

  getInner(key: Uint8Array): BpfMap | undefined {
    this.checkKey(key);
    const i = this.find(key, 0, mapHash(key, 0, this.keySize, this.seed));
    return i < 0 ? undefined : mapFromHandle(this.memory, this.memory.view.getUint32(this.valueAddr(i), true));
  }

  setInner(key: Uint8Array, inner: BpfMap, flags = BPF_ANY): void {
    this.checkWritable();
    this.checkKey(key);
    if (inner.memory !== this.memory) this.fail('EINVAL', `inner map '${inner.name}' lives in another memory`);
    if (!innerMatches(this.template, inner)) this.fail('EINVAL', `inner map '${inner.name}' does not match the template (type, sizes, flags, max_entries)`);
    const r = this.upsert(key, 0, flags, (va) => this.memory.view.setUint32(va, inner.handle, true));
    if (r < 0) this.failErrno(-r, key, flags);
  }

  /** User space sees the inner map's id where the value holds its handle. */
  protected override copyOut(addr: number): Uint8Array {
    const m = mapFromHandle(this.memory, this.memory.view.getUint32(addr, true));
    return u32bytes(m ? m.id : 0);
  }

  override update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkValue(value);
    const inner = mapById(this.memory, u32le(value));
    if (!inner) this.fail('EBADF', `no map with id ${u32le(value)}`);
    this.setInner(key, inner, flags);
  }

}

/** BPF_MAP_TYPE_DEVMAP_HASH: a hash of redirect targets keyed by u32. */
export class RedirectHashMap extends HashMap implements BpfRedirectMap {
  redirectTarget(key: number): Uint8Array | undefined {
    return this.lookup(u32bytes(key));
  }

  override updateElem(): number {
    return -ERRNO.EINVAL;
  }

  override deleteElem(): number {
    return -ERRNO.EINVAL;
  }
}
