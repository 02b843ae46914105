// BPF_PROG_TYPE_XDP: struct xdp_md over a frame laid out as the kernel's
// test run lays it out (measured with BPF_PROG_TEST_RUN on Linux 6.18, see
// docs/program-types.md):
//
//   frame (4096 bytes)
//   | 40 bytes: struct xdp_frame (never reachable) | 216 bytes of headroom |
//   | data_meta .. data .. data_end | ... | 320 bytes of skb_shared_info |
//
// - data_in of at least 14 bytes (ETH_HLEN); up to 3520 bytes sit in the
//   frame, the rest in 4096-byte fragments the program reaches only through
//   bpf_xdp_load_bytes / store_bytes / adjust_tail / get_buff_len;
// - ctx_in.data is the metadata length (the first bytes of data_in are
//   metadata; data stays at 256, the headroom shrinks), ctx_in.data_end the length of the linear part (the rest of
//   data_in goes to fragments), data_meta must be 0, rx_queue_index 0,
//   egress_ifindex 0, ingress_ifindex 0 (= lo) or a host interface;
// - data_out is [data_meta, data_end) plus the fragments; ctx_out has data
//   and data_end as offsets from data_meta, data_meta = 0, the other
//   fields as ctx_in gave them;
// - the xdp_md fields data, data_end, data_meta hold real addresses (the
//   memory is below 4 GiB), so the program's 32-bit loads need no rewriting.

import { TestRunError } from '../../errors.js';
import type { HelperContext, HelperSpec } from '../helpers.js';
import type { LinearMemory } from '../memory.js';
import { GUARD, MovableRegion, ctxBytes, setU32, u32 } from './common.js';
import type { CtxField, ProgType, RunHost, Session, SessionEnv, TestRunInput, TestRunOutput } from './types.js';

export const XDP_PACKET_HEADROOM = 256;
/** sizeof(struct xdp_frame) kept free at the start of the headroom. */
export const XDP_FRAME_SIZE = 40;
/** sizeof(struct skb_shared_info) kept free at the end of the frame. */
export const XDP_TAILROOM = 320;
export const XDP_FRAME = 4096;
/** Largest linear packet: 4096 - 256 - 320. */
export const XDP_MAX_LINEAR = XDP_FRAME - XDP_PACKET_HEADROOM - XDP_TAILROOM;
/** MAX_SKB_FRAGS. */
export const XDP_MAX_FRAGS = 17;
export const ETH_HLEN = 14;

export const XDP_ACTION = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

export const XDP_MD_SIZE = 24;
export const XDP_MD_FIELDS: readonly CtxField[] = [
  { name: 'data', offset: 0, size: 4, note: 'address of the first packet byte (ctx_out: offset from data_meta)' },
  { name: 'data_end', offset: 4, size: 4, note: 'address after the last byte of the linear part' },
  { name: 'data_meta', offset: 8, size: 4, note: 'address of the metadata (= data when there is none)' },
  { name: 'ingress_ifindex', offset: 12, size: 4, note: '1 (lo) unless ctx_in gives one' },
  { name: 'rx_queue_index', offset: 16, size: 4 },
  { name: 'egress_ifindex', offset: 20, size: 4, note: 'devmap programs only; 0' },
];

const EINVAL = -22;
const EACCES = -13;

export class XdpSession implements Session {
  readonly args: number[];
  packet?: { start: number; length: number };
  readonly frame: number;
  readonly ctxAddr: number;
  data: number;
  dataEnd: number;
  dataMeta: number;
  /** Bytes past the linear part, one array per 4096-byte fragment. */
  frags: Uint8Array[];
  private readonly region: MovableRegion;
  private readonly ctxIn: Uint8Array;

  constructor(private readonly memory: LinearMemory, input: TestRunInput, interfaces: readonly number[] = [1]) {
    const data = input.data ?? new Uint8Array(0);
    if (data.length < ETH_HLEN) {
      throw new TestRunError('TESTRUN_DATA', `xdp: data_in of ${data.length} bytes is shorter than an Ethernet header (${ETH_HLEN}); the kernel refuses it with EINVAL`, 22);
    }
    const ctx = ctxBytes(input.ctx, XDP_MD_SIZE, 'xdp');
    this.ctxIn = ctx.slice();
    if (!input.ctx) setU32(this.ctxIn, 12, 1); // ctx_out then shows the device the program saw
    const metaLen = input.ctx ? u32(ctx, 0) : 0;
    let ifindex = 1;
    // Without ctx_in the linear part is as long as it can be; ctx_in's data_end sets it.
    let linear = Math.min(data.length, XDP_MAX_LINEAR);
    if (input.ctx) {
      const end = u32(ctx, 4);
      if (u32(ctx, 8) !== 0) throw new TestRunError('TESTRUN_CTX', 'xdp: ctx_in data_meta must be 0 (the metadata length goes in data)', 22);
      if (end > data.length || end > XDP_MAX_LINEAR) {
        throw new TestRunError('TESTRUN_CTX', `xdp: ctx_in data_end ${end} (the linear part) exceeds the packet (${data.length} bytes) or ${XDP_MAX_LINEAR}`, 22);
      }
      if (metaLen > end || metaLen > 255 || (metaLen & 3) !== 0) {
        throw new TestRunError('TESTRUN_CTX', `xdp: ctx_in data (metadata length) ${metaLen} must be a multiple of 4, at most 255 and within data_end`, 22);
      }
      linear = end;
      if (u32(ctx, 16) !== 0) throw new TestRunError('TESTRUN_CTX', 'xdp: ctx_in rx_queue_index must be 0 (the test device has one queue)', 22);
      if (u32(ctx, 20) !== 0) throw new TestRunError('TESTRUN_CTX', 'xdp: ctx_in egress_ifindex must be 0', 22);
      const given = u32(ctx, 12);
      if (given !== 0) {
        if (!interfaces.includes(given)) throw new TestRunError('TESTRUN_CTX', `xdp: ctx_in ingress_ifindex ${given}: no such device (the host's interfaces: ${interfaces.join(', ')})`, 19);
        ifindex = given;
      }
    }
    const rest = data.length - linear;
    if (rest > XDP_MAX_FRAGS * XDP_FRAME) {
      throw new TestRunError('TESTRUN_DATA', `xdp: data_in of ${data.length} bytes exceeds ${linear} + ${XDP_MAX_FRAGS} fragments of ${XDP_FRAME}`, 7);
    }
    this.frame = memory.alloc(XDP_FRAME + GUARD, 64);
    this.ctxAddr = memory.alloc(XDP_MD_SIZE + GUARD, 8);
    // The headroom shrinks by the metadata: data itself starts at 256.
    const start = this.frame + XDP_PACKET_HEADROOM - metaLen;
    memory.write(start, data.subarray(0, linear));
    this.frags = [];
    for (let off = linear; off < data.length; off += XDP_FRAME) this.frags.push(data.slice(off, Math.min(data.length, off + XDP_FRAME)));
    this.dataMeta = start;
    this.data = start + metaLen;
    this.dataEnd = start + linear;
    this.region = new MovableRegion(memory, 'packet', true);
    memory.addRegion(this.ctxAddr, XDP_MD_SIZE, 'ctx', false);
    const md = new Uint8Array(XDP_MD_SIZE);
    setU32(md, 12, ifindex);
    memory.write(this.ctxAddr, md);
    this.sync();
    this.args = [this.ctxAddr];
  }

  /** Write data/data_end/data_meta into xdp_md and move the packet region. */
  sync(): void {
    const m = this.memory;
    m.writeU32(this.ctxAddr, this.data);
    m.writeU32(this.ctxAddr + 4, this.dataEnd);
    m.writeU32(this.ctxAddr + 8, this.dataMeta);
    this.region.set(this.dataMeta, this.dataEnd);
  }

  get fragLen(): number {
    let n = 0;
    for (const f of this.frags) n += f.length;
    return n;
  }

  /** Whole buffer length (linear from data, plus fragments): bpf_xdp_get_buff_len. */
  get buffLen(): number {
    return this.dataEnd - this.data + this.fragLen;
  }

  adjustHead(delta: number): number {
    const metaLen = this.data - this.dataMeta;
    const nd = this.data + delta;
    if (nd < this.frame + XDP_FRAME_SIZE + metaLen || nd > this.dataEnd - ETH_HLEN) return EINVAL;
    if (metaLen > 0) this.memory.u8.copyWithin(this.dataMeta + delta, this.dataMeta, this.data);
    this.dataMeta += delta;
    this.data = nd;
    this.sync();
    return 0;
  }

  adjustMeta(delta: number): number {
    const nm = this.dataMeta + delta;
    if (nm < this.frame + XDP_FRAME_SIZE || nm > this.data) return EINVAL;
    const metaLen = this.data - nm;
    if ((metaLen & 3) !== 0 || metaLen > 255) return EACCES;
    this.dataMeta = nm;
    this.sync();
    return 0;
  }

  adjustTail(delta: number): number {
    if (this.frags.length > 0) {
      const last = this.frags[this.frags.length - 1]!;
      if (delta > 0) {
        if (last.length + delta > XDP_FRAME) return EINVAL;
        const g = new Uint8Array(last.length + delta);
        g.set(last);
        this.frags[this.frags.length - 1] = g;
        return 0;
      }
      let cut = -delta;
      if (cut > this.buffLen - ETH_HLEN) return EINVAL;
      while (cut > 0 && this.frags.length > 0) {
        const f = this.frags[this.frags.length - 1]!;
        if (f.length <= cut) {
          cut -= f.length;
          this.frags.pop();
        } else {
          this.frags[this.frags.length - 1] = f.slice(0, f.length - cut);
          cut = 0;
        }
      }
      if (cut > 0) {
        this.dataEnd -= cut;
        this.sync();
      }
      return 0;
    }
    const ne = this.dataEnd + delta;
    if (ne > this.frame + XDP_FRAME - XDP_TAILROOM || ne < this.data + ETH_HLEN) return EINVAL;
    if (delta > 0) this.memory.u8.fill(0, this.dataEnd, ne);
    this.dataEnd = ne;
    this.sync();
    return 0;
  }

  /** [offset, offset+len) of the whole buffer (from data), as pieces of linear memory or fragments. */
  private pieces(offset: number, len: number): { arr: Uint8Array; at: number; n: number }[] | undefined {
    if (offset < 0 || len < 0 || offset + len > this.buffLen) return undefined;
    const out: { arr: Uint8Array; at: number; n: number }[] = [];
    const lin = this.dataEnd - this.data;
    let o = offset;
    let left = len;
    if (o < lin && left > 0) {
      const n = Math.min(left, lin - o);
      out.push({ arr: this.memory.u8, at: this.data + o, n });
      o += n;
      left -= n;
    }
    let base = lin;
    for (const f of this.frags) {
      if (left === 0) break;
      if (o < base + f.length) {
        const n = Math.min(left, base + f.length - o);
        out.push({ arr: f, at: o - base, n });
        o += n;
        left -= n;
      }
      base += f.length;
    }
    return out;
  }

  loadBytes(offset: number, to: Uint8Array): boolean {
    const ps = this.pieces(offset, to.length);
    if (!ps) return false;
    let k = 0;
    for (const p of ps) {
      to.set(p.arr.subarray(p.at, p.at + p.n), k);
      k += p.n;
    }
    return true;
  }

  storeBytes(offset: number, from: Uint8Array): boolean {
    const ps = this.pieces(offset, from.length);
    if (!ps) return false;
    let k = 0;
    for (const p of ps) {
      p.arr.set(from.subarray(k, k + p.n), p.at);
      k += p.n;
    }
    return true;
  }

  finish(): TestRunOutput {
    const lin = this.memory.read(this.dataMeta, this.dataEnd - this.dataMeta);
    const fl = this.fragLen;
    const data = new Uint8Array(lin.length + fl);
    data.set(lin);
    let k = lin.length;
    for (const f of this.frags) {
      data.set(f, k);
      k += f.length;
    }
    const ctx = this.ctxIn.slice();
    setU32(ctx, 0, this.data - this.dataMeta);
    setU32(ctx, 4, this.dataEnd - this.dataMeta);
    setU32(ctx, 8, 0);
    return { data, ctx };
  }

  release(): void {
    this.region.clear();
    this.memory.free(this.frame);
    this.memory.free(this.ctxAddr);
  }
}

function xdpOf(ctx: HelperContext, name: string): XdpSession {
  const s = (ctx.host as RunHost | undefined)?.session;
  if (!(s instanceof XdpSession)) throw new TypeError(`${name} needs an XDP context`);
  return s;
}

const i32 = (v: bigint): number => Number(BigInt.asIntN(32, v));

export const XDP_HELPERS: readonly HelperSpec[] = [
  { id: 44, name: 'xdp_adjust_head', impl: (_c, delta, _3, _4, _5, ctx) => xdpOf(ctx, 'bpf_xdp_adjust_head').adjustHead(i32(delta)) },
  { id: 54, name: 'xdp_adjust_meta', impl: (_c, delta, _3, _4, _5, ctx) => xdpOf(ctx, 'bpf_xdp_adjust_meta').adjustMeta(i32(delta)) },
  { id: 65, name: 'xdp_adjust_tail', impl: (_c, delta, _3, _4, _5, ctx) => xdpOf(ctx, 'bpf_xdp_adjust_tail').adjustTail(i32(delta)) },
  { id: 188, name: 'xdp_get_buff_len', impl: (_c, _2, _3, _4, _5, ctx) => xdpOf(ctx, 'bpf_xdp_get_buff_len').buffLen },
  {
    id: 189, name: 'xdp_load_bytes', impl: (_c, off, buf, len, _5, ctx) => {
      const s = xdpOf(ctx, 'bpf_xdp_load_bytes');
      const n = Number(len & 0xffffffffn);
      const at = ctx.checkAccess(buf, n, true);
      const o = Number(off & 0xffffffffn);
      if (off <= 0xffffffffn && o + n <= s.dataEnd - s.data) { // all in the linear part
        ctx.memory.u8.copyWithin(at, s.data + o, s.data + o + n);
        return 0;
      }
      const tmp = new Uint8Array(n);
      if (!s.loadBytes(o, tmp)) return EINVAL;
      ctx.memory.u8.set(tmp, at);
      return 0;
    },
  },
  {
    id: 190, name: 'xdp_store_bytes', impl: (_c, off, buf, len, _5, ctx) => {
      const s = xdpOf(ctx, 'bpf_xdp_store_bytes');
      const n = Number(len & 0xffffffffn);
      const at = ctx.checkAccess(buf, n, false);
      return s.storeBytes(Number(off & 0xffffffffn), ctx.memory.u8.slice(at, at + n)) ? 0 : EINVAL;
    },
  },
];

export const XDP: ProgType = {
  id: 6,
  name: 'xdp',
  aliases: ['xdp', 'xdp.frags'],
  family: 'xdp',
  ctxSize: XDP_MD_SIZE,
  fields: XDP_MD_FIELDS,
  helpers: XDP_HELPERS,
  open(env: SessionEnv, input: TestRunInput): Session {
    return new XdpSession(env.memory, input, env.host.interfaces);
  },
};
