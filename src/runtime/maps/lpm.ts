// BPF_MAP_TYPE_LPM_TRIE: longest-prefix match. Keys are `struct
// bpf_lpm_trie_key`: a u32 prefix length (host order) then key_size - 4 bytes
// of data, compared most significant bit of data[0] first.
//
// The trie itself is a JS binary trie (one node per bit on the way to a
// prefix); values live in linear memory in chunks of LPM_CHUNK slots of
// round_up(value_size, 8) bytes (each chunk a region), so a program gets a
// real value pointer. Compiled code calls the helper for lookups (no inline
// fast path). Like the kernel, the map must be created BPF_F_NO_PREALLOC;
// a full map refuses new prefixes with ENOSPC.

import type { LinearMemory } from '../memory.js';
import { MapBase, hexBytes } from './base.js';
import {
  type MapCreateOptions, type MapCreateSpec, BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, ERRNO,
} from './types.js';

export const LPM_CHUNK = 64;

interface Node {
  c0?: Node;
  c1?: Node;
  /** Value slot, -1 when this node is only a step on the way. */
  slot: number;
  /** Key as given at insertion (prefix length + data), for get_next_key. */
  key?: Uint8Array;
}

export class LpmTrieMap extends MapBase {
  readonly maxBits: number;
  private readonly root: Node = { slot: -1 };
  private readonly chunks: number[] = [];
  private readonly freeSlots: number[] = [];
  private nslots = 0;
  private n = 0;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    this.maxBits = (this.keySize - 4) * 8;
    this.setStorage(0);
    this.register();
  }

  get count(): number {
    return this.n;
  }

  private slotAddr(s: number): number {
    return this.chunks[Math.floor(s / LPM_CHUNK)]! + (s % LPM_CHUNK) * this.valueStride;
  }

  private newSlot(): number {
    const f = this.freeSlots.pop();
    if (f !== undefined) return f;
    if (this.nslots % LPM_CHUNK === 0) {
      const size = LPM_CHUNK * this.valueStride;
      const a = this.alloc(size);
      this.addRegion(a, size);
      this.chunks.push(a);
    }
    return this.nslots++;
  }

  private static bit(src: Uint8Array, dataOff: number, i: number): number {
    return (src[dataOff + (i >>> 3)]! >>> (7 - (i & 7))) & 1;
  }

  private prefixLen(src: Uint8Array, off: number): number {
    return (src[off]! | (src[off + 1]! << 8) | (src[off + 2]! << 16) | (src[off + 3]! << 24)) >>> 0;
  }

  /** Node for exactly this prefix (creating the path when `create`). */
  private walk(src: Uint8Array, off: number, plen: number, create: boolean): Node | undefined {
    let node = this.root;
    for (let i = 0; i < plen; i++) {
      const b = LpmTrieMap.bit(src, off + 4, i);
      let next = b ? node.c1 : node.c0;
      if (!next) {
        if (!create) return undefined;
        next = { slot: -1 };
        if (b) node.c1 = next; else node.c0 = next;
      }
      node = next;
    }
    return node;
  }

  /** Longest match for key src[off..]: value slot or -1. */
  private match(src: Uint8Array, off: number): number {
    const plen = Math.min(this.prefixLen(src, off), this.maxBits);
    let node: Node | undefined = this.root;
    let best = -1;
    for (let i = 0; node; i++) {
      if (node.slot >= 0) best = node.slot;
      if (i >= plen) break;
      node = LpmTrieMap.bit(src, off + 4, i) ? node.c1 : node.c0;
    }
    return best;
  }

  private upsert(src: Uint8Array, off: number, flags: number, write: (addr: number) => void): number {
    if (flags & BPF_F_LOCK || flags > BPF_EXIST || flags < 0) return -ERRNO.EINVAL;
    const plen = this.prefixLen(src, off);
    if (plen > this.maxBits) return -ERRNO.EINVAL;
    const existing = this.walk(src, off, plen, false);
    if (existing && existing.slot >= 0) {
      if (flags === BPF_NOEXIST) return -ERRNO.EEXIST;
      existing.key = src.slice(off, off + this.keySize);
      write(this.slotAddr(existing.slot));
      return 0;
    }
    if (flags === BPF_EXIST) return -ERRNO.ENOENT;
    if (this.n >= this.maxEntries) return -ERRNO.ENOSPC;
    const node = this.walk(src, off, plen, true)!;
    node.slot = this.newSlot();
    node.key = src.slice(off, off + this.keySize);
    this.n++;
    const a = this.slotAddr(node.slot);
    this.memory.u8.fill(0, a, a + this.valueStride);
    write(a);
    return 0;
  }

  private erase(src: Uint8Array, off: number): number {
    const plen = this.prefixLen(src, off);
    if (plen > this.maxBits) return -ERRNO.EINVAL;
    // Walk remembering the path to prune nodes left empty.
    const path: Node[] = [this.root];
    let node: Node | undefined = this.root;
    for (let i = 0; i < plen && node; i++) {
      node = LpmTrieMap.bit(src, off + 4, i) ? node.c1 : node.c0;
      if (node) path.push(node);
    }
    if (!node || node.slot < 0) return -ERRNO.ENOENT;
    this.freeSlots.push(node.slot);
    node.slot = -1;
    delete node.key;
    this.n--;
    for (let i = path.length - 1; i > 0; i--) {
      const nd = path[i]!;
      if (nd.slot >= 0 || nd.c0 || nd.c1) break;
      const parent = path[i - 1]!;
      if (parent.c0 === nd) delete parent.c0; else delete parent.c1;
    }
    return 0;
  }

  // ---- program side ----

  lookupElem(keyAddr: number): number {
    const s = this.match(this.memory.u8, keyAddr);
    return s < 0 ? 0 : this.slotAddr(s);
  }

  updateElem(keyAddr: number, valueAddr: number, flags: number): number {
    return this.upsert(this.memory.u8, keyAddr, flags, (a) => this.memory.u8.copyWithin(a, valueAddr, valueAddr + this.valueSize));
  }

  deleteElem(keyAddr: number): number {
    return this.erase(this.memory.u8, keyAddr);
  }

  // ---- user space ----

  /** Longest-prefix match, as BPF_MAP_LOOKUP_ELEM does on a trie. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    this.checkKey(key);
    const s = this.match(key, 0);
    return s < 0 ? undefined : this.copyOut(this.slotAddr(s));
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    this.checkKey(key);
    this.checkValue(value);
    const r = this.upsert(key, 0, flags, (a) => this.copyIn(a, value));
    if (r === -ERRNO.EEXIST) this.fail('EEXIST', `prefix ${hexBytes(key)} exists (BPF_NOEXIST)`);
    if (r === -ERRNO.ENOENT) this.fail('ENOENT', `prefix ${hexBytes(key)} not found (BPF_EXIST)`);
    if (r === -ERRNO.ENOSPC) this.fail('ENOSPC', `trie is full (${this.maxEntries} prefixes)`);
    if (r < 0) this.fail('EINVAL', this.prefixLen(key, 0) > this.maxBits ? `prefix length ${this.prefixLen(key, 0)} exceeds ${this.maxBits} bits` : `invalid update flags 0x${flags.toString(16)}`);
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    this.checkKey(key);
    const r = this.erase(key, 0);
    if (r === -ERRNO.EINVAL) this.fail('EINVAL', `prefix length ${this.prefixLen(key, 0)} exceeds ${this.maxBits} bits`);
    if (r < 0) this.fail('ENOENT', `prefix ${hexBytes(key)} not found`);
  }

  /** Nodes holding a prefix, in post-order (more specific prefixes first, 0 before 1). */
  private order(): Node[] {
    const out: Node[] = [];
    const visit = (n: Node): void => {
      if (n.c0) visit(n.c0);
      if (n.c1) visit(n.c1);
      if (n.slot >= 0) out.push(n);
    };
    visit(this.root);
    return out;
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const all = this.order();
    if (all.length === 0) return undefined;
    if (key === undefined) return all[0]!.key!.slice();
    this.checkKey(key);
    const plen = this.prefixLen(key, 0);
    const node = plen <= this.maxBits ? this.walk(key, 0, plen, false) : undefined;
    const i = node && node.slot >= 0 ? all.indexOf(node) : -1;
    if (i < 0) return all[0]!.key!.slice();
    return i + 1 < all.length ? all[i + 1]!.key!.slice() : undefined;
  }

  override *keys(): IterableIterator<Uint8Array> {
    this.checkReadable();
    for (const n of this.order()) yield n.key!.slice();
  }

  override *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    this.checkReadable();
    for (const n of this.order()) yield [n.key!.slice(), this.copyOut(this.slotAddr(n.slot))];
  }

  override lookupBatch(): never {
    return this.fail('EINVAL', 'batch operations are not supported on lpm_trie');
  }

  override lookupAndDeleteBatch(): never {
    return this.fail('EINVAL', 'batch operations are not supported on lpm_trie');
  }
}
