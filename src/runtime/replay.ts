// Packet replay: captured packets through an XDP, TC or socket-filter
// program, one verdict per packet, routed to the output its verdict names.
// The core of `tsbpf run` (src/cli/cmd-run.ts), browser-safe: records in,
// verdicts and packets to write out, in batches.
//
//   const runner = packetRunner(program, { engine: 'jit' });
//   const summary = await replay(batches, runner, { onPacket: (pkt, v) => write(v.route, v) });
//   console.log(formatSummary(summary));
//
// What a packet sees:
// - XDP: the frame as BPF_PROG_TEST_RUN lays it out; bpf_ktime_get_ns
//   returns the packet's capture timestamp; verdicts XDP_ABORTED/DROP/PASS/
//   TX/REDIRECT (an unknown value drops, as the kernel does after warning);
//   PASS, TX and REDIRECT write the packet as the program left it
//   (adjust_head/tail/meta applied, metadata not included), DROP and ABORTED
//   the packet as it arrived.
// - TC (sched_cls / sched_act, direct action): the __sk_buff the test run
//   builds (len, protocol, pkt_type, family and addresses from the packet),
//   with tstamp = the capture timestamp and wire_len = the original length;
//   TC_ACT_OK/UNSPEC/PIPE/RECLASSIFY/REPEAT pass, SHOT/STOLEN/QUEUED/TRAP
//   drop, REDIRECT redirects; mark and priority after the run are reported.
// - Socket filter: the program sees the frame from its MAC header, as a
//   filter on a packet socket (tcpdump's) does, LD_ABS/LD_IND included; the
//   return value is the number of bytes to keep, 0 drops the packet (the
//   kernel's sk_filter_trim_cap): a kept packet is written cut to that many
//   bytes (capture length cut, original length kept, as a snap length does).
// - Programs that make tail calls run through Program.run (the Runtime's
//   BPF_PROG_TEST_RUN, which alone follows tail calls): same verdicts and
//   outputs, slower, and a socket filter there sees the network header.
// - Captures of other link types (raw IP, Linux cooked v1/v2, BSD loopback)
//   get an Ethernet header made from their protocol field before the run,
//   and their own header back when written, so outputs keep the input's link
//   type. Packets the test-run layout refuses (shorter than an Ethernet
//   header, bigger than a page for skb types, unknown link types) are
//   counted as SKIPPED and written nowhere.
// - A fault (checked mode) is counted as FAULT and routed with the drops.

import { RuntimeFault, isTsbpfError } from '../errors.js';
import { CODE_ADDR_TAG, type RunEnv } from './interpreter.js';
import type { MapHelperHost } from './maps/index.js';
import { SK_BUFF_SIZE, SkbSession, XDP_MAX_LINEAR, XdpSession } from './progtypes/index.js';
import { XDP_FRAME, XDP_MAX_FRAGS, XDP_PACKET_HEADROOM } from './progtypes/xdp.js';
import type { HostEnv, ProgType, RedirectRecord, RunHost, Session } from './progtypes/types.js';
import { type Engine, type Program, RUN_BUDGET, type Runtime } from './runtime.js';

/** A captured packet (what src/net's readers yield; structurally their PacketRecord). */
export interface ReplayPacket {
  readonly data: Uint8Array;
  /** Nanoseconds since the epoch. */
  readonly ts: bigint;
  readonly origLen?: number;
  readonly linkType?: number;
  readonly interfaceId?: number;
  readonly flags?: number;
  readonly comment?: string;
}

/** Which output a verdict sends a packet to. */
export type Route = 'pass' | 'drop' | 'tx' | 'redirect';

export interface PacketVerdict {
  /** The program's return value as its type reads it (TC: signed 32-bit; others: unsigned 32-bit). */
  ret: number;
  /** XDP_PASS, TC_ACT_SHOT, ACCEPT, DROP, FAULT, SKIPPED... */
  verdict: string;
  /** Output the packet goes to; null: none (skipped). */
  route: Route | null;
  /** The packet to write, in the input's link type. */
  data: Uint8Array;
  /** Its original (wire) length. */
  origLen: number;
  /** The program changed the packet (content or length). */
  changed: boolean;
  redirect?: RedirectRecord;
  /** TC: skb->mark and skb->priority after the run. */
  mark?: number;
  priority?: number;
  /** Socket filter: bytes kept (0: dropped). */
  keep?: number;
  /** Why the packet faulted or was skipped. */
  error?: string;
  /** Instructions executed. */
  insns: number;
}

export interface PacketRunner {
  /** 'xdp', 'tc' or 'socket_filter'. */
  readonly kind: ReplayKind;
  /** Verdict names this program type can give, in display order. */
  readonly verdicts: readonly string[];
  run(packet: ReplayPacket): PacketVerdict;
}

export type ReplayKind = 'xdp' | 'tc' | 'socket_filter';

// ---- verdict tables -------------------------------------------------------------

export const XDP_VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;
const XDP_ROUTE: readonly Route[] = ['drop', 'drop', 'pass', 'tx', 'redirect'];

export const TC_VERDICTS: Readonly<Record<number, string>> = {
  [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT', 8: 'TC_ACT_TRAP',
};
const TC_ROUTE: Readonly<Record<number, Route>> = {
  [-1]: 'pass', 0: 'pass', 1: 'pass', 2: 'drop', 3: 'pass', 4: 'drop', 5: 'drop', 6: 'pass', 7: 'redirect', 8: 'drop',
};

export interface Classified {
  readonly ret: number;
  readonly verdict: string;
  readonly route: Route;
}

/** The verdict name and route of a return value. */
export function classify(kind: ReplayKind, r0: bigint): Classified {
  if (kind === 'tc') {
    const ret = Number(BigInt.asIntN(32, r0));
    return { ret, verdict: TC_VERDICTS[ret] ?? `TC_ACT_${ret}`, route: TC_ROUTE[ret] ?? 'pass' };
  }
  const ret = Number(r0 & 0xffffffffn);
  if (kind === 'xdp') {
    if (ret < XDP_VERDICTS.length) return { ret, verdict: XDP_VERDICTS[ret]!, route: XDP_ROUTE[ret]! };
    return { ret, verdict: `XDP_INVALID(${ret})`, route: 'drop' };
  }
  return ret === 0 ? { ret, verdict: 'DROP', route: 'drop' } : { ret, verdict: 'ACCEPT', route: 'pass' };
}

const VERDICT_ORDER: Record<ReplayKind, readonly string[]> = {
  xdp: ['XDP_PASS', 'XDP_DROP', 'XDP_TX', 'XDP_REDIRECT', 'XDP_ABORTED'],
  tc: ['TC_ACT_OK', 'TC_ACT_UNSPEC', 'TC_ACT_PIPE', 'TC_ACT_RECLASSIFY', 'TC_ACT_SHOT', 'TC_ACT_STOLEN', 'TC_ACT_QUEUED', 'TC_ACT_TRAP', 'TC_ACT_REDIRECT', 'TC_ACT_REPEAT'],
  socket_filter: ['ACCEPT', 'DROP'],
};

/** What kind of replay a program type allows, or undefined. */
export function replayKind(typeName: string): ReplayKind | undefined {
  if (typeName === 'xdp') return 'xdp';
  if (typeName === 'sched_cls' || typeName === 'sched_act') return 'tc';
  if (typeName === 'socket_filter') return 'socket_filter';
  return undefined;
}

// ---- link layers ----------------------------------------------------------------

const ETH_HLEN = 14;
const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

/** The Ethernet frame a program sees for a packet of another link type, and the header to put back. */
interface Framed {
  readonly frame: Uint8Array;
  /** The link-layer header that replaced the Ethernet header (empty for Ethernet). */
  readonly header: Uint8Array;
}

/** Whether replay can frame packets of this link type. */
export function replayableLinkType(linkType: number): boolean {
  return [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL].includes(linkType);
}

function frameOf(d: Uint8Array, linkType: number): Framed | string {
  let hlen: number;
  let proto: number;
  switch (linkType) {
    case LINKTYPE_ETHERNET: return { frame: d, header: EMPTY };
    case LINKTYPE_RAW: case LINKTYPE_IPV4: case LINKTYPE_IPV6: {
      const v = d.length ? d[0]! >> 4 : 0;
      hlen = 0;
      proto = v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (d.length < 16) return 'cooked (SLL) header cut short';
      hlen = 16;
      proto = (d[14]! << 8) | d[15]!;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (d.length < 20) return 'cooked (SLL2) header cut short';
      hlen = 20;
      proto = (d[0]! << 8) | d[1]!;
      break;
    case LINKTYPE_NULL: {
      if (d.length < 4) return 'loopback header cut short';
      hlen = 4;
      const fam = d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
      const famBe = (d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!;
      const f = fam === 2 || famBe === 2 ? 2 : [24, 28, 30].includes(fam) || [24, 28, 30].includes(famBe) ? 10 : 0;
      proto = f === 2 ? 0x0800 : f === 10 ? 0x86dd : 0;
      break;
    }
    default:
      return `link type ${linkType} cannot be replayed (Ethernet, raw IP, Linux cooked and loopback can)`;
  }
  const frame = new Uint8Array(ETH_HLEN + d.length - hlen);
  frame[12] = proto >> 8;
  frame[13] = proto & 0xff;
  frame.set(d.subarray(hlen), ETH_HLEN);
  return { frame, header: d.subarray(0, hlen) };
}

/** The output packet for an Ethernet frame the program returned. */
function unframe(f: Framed, out: Uint8Array): Uint8Array {
  if (f.header === EMPTY) return out;
  const body = out.subarray(Math.min(ETH_HLEN, out.length));
  const r = new Uint8Array(f.header.length + body.length);
  r.set(f.header);
  r.set(body, f.header.length);
  return r;
}

const EMPTY = new Uint8Array(0);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- runners on the Runtime -----------------------------------------------------

export interface RunnerOptions {
  readonly engine?: Engine;
  /** Per-access checks (default: unless the program was verified). */
  readonly checked?: boolean;
  /** Instruction budget of one packet's run (default the Runtime's). */
  readonly budget?: number;
  /**
   * 'session' (default): the packet is laid out in a session reused from
   * packet to packet (XDP) or opened per packet (skb types), and the engine
   * runs directly: the replay goes at the engine's speed. 'test-run': every
   * packet through Program.run (BPF_PROG_TEST_RUN semantics, slower).
   * Programs that make tail calls always take 'test-run'.
   */
  readonly path?: 'session' | 'test-run';
}

const BPF_FUNC_tail_call = 12;
const MAX_NESTING = 8;
const CODE_TAG = CODE_ADDR_TAG;

/**
 * What helpers see as ctx.host during a replayed run (the Runtime's RunHost
 * contract): the session, the redirect decision, bpf_clone_redirect copies,
 * and callbacks for bpf_loop / bpf_for_each_map_elem.
 */
class ReplayHost implements RunHost, MapHelperHost {
  session!: Session;
  redirect?: RedirectRecord;
  readonly clones: { ifindex: number; flags: number; data: Uint8Array }[] = [];
  env!: HostEnv;
  runEnv!: RunEnv;
  private depth = 0;
  constructor(readonly progType: ProgType, private readonly rt: Runtime, private readonly program: Program, private readonly engine: Engine) {
    this.env = rt.host;
  }

  callback(fn: bigint, args: readonly bigint[], pc: number): bigint {
    const p = this.program;
    const hi = Number((BigInt.asUintN(64, fn) >> 32n) & 0xffffffffn) | 0;
    if (hi !== CODE_TAG || p.prologue === 0) {
      throw new RuntimeFault('FAULT_CALL_TARGET', `callback 0x${BigInt.asUintN(64, fn).toString(16)} is not the address of a function of this program`, pc - p.prologue);
    }
    if (this.depth + 1 >= MAX_NESTING) throw new RuntimeFault('FAULT_CALL_DEPTH', `callbacks nested more than ${MAX_NESTING} deep`, pc - p.prologue);
    this.depth++;
    try {
      const a = [...args.slice(0, 4)];
      while (a.length < 4) a.push(0n);
      return p.engineRun(this.engine, { ...this.runEnv, stack: this.rt.stackFor(this.depth), args: [...a, fn] }).r0;
    } finally {
      this.depth--;
    }
  }

  perfCtxBytes(_ctxAddr: number, len: number): Uint8Array | undefined {
    const s = this.session;
    if (s instanceof XdpSession) {
      const b = new Uint8Array(len);
      return s.loadBytes(0, b) ? b : undefined;
    }
    if (s instanceof SkbSession) return len <= s.len ? this.rt.memory.read(s.data, len) : undefined;
    return undefined;
  }
}

/**
 * A runner for a Runtime program of type xdp, sched_cls/sched_act or
 * socket_filter. bpf_ktime_get_ns returns each packet's capture timestamp.
 */
export function packetRunner(program: Program, opts: RunnerOptions = {}): PacketRunner {
  const kind = replayKind(program.type.name);
  if (!kind) throw new TypeError(`a ${program.type.name} program cannot be replayed on packets (xdp, sched_cls, sched_act, socket_filter can)`);
  const tailCalls = program.insns.some((x) => x.op.kind === 'call' && x.src === 0 && x.imm === BPF_FUNC_tail_call);
  if ((opts.path ?? 'session') === 'session' && !tailCalls) return sessionRunner(program, kind, opts);
  return testRunRunner(program, kind, opts);
}

/** The verdict of a run, with the packet to write when the program changed it. */
function finishVerdict(kind: ReplayKind, p: ReplayPacket, framed: Framed, c: Classified, insns: number,
  rewritten: Uint8Array | undefined): PacketVerdict {
  const caplen = p.data.length;
  const origLen = p.origLen ?? caplen;
  const v: PacketVerdict = { ret: c.ret, verdict: c.verdict, route: c.route, data: p.data, origLen, changed: false, insns };
  if (kind === 'socket_filter') {
    // The filter sees the frame from its first byte (a packet socket, as
    // tcpdump attaches filters); it keeps `ret` bytes of it.
    const flen = framed.frame.length;
    const keep = Math.min(c.ret, flen);
    v.keep = keep;
    if (c.ret !== 0 && keep < flen) {
      const hl = framed.header === EMPTY ? 0 : framed.header.length - ETH_HLEN;
      v.data = p.data.subarray(0, Math.max(0, keep + hl));
      v.changed = true;
    }
    return v;
  }
  if (rewritten && c.route !== 'drop' && !sameBytes(rewritten, framed.frame)) {
    v.changed = true;
    v.data = unframe(framed, rewritten);
    v.origLen = Math.max(v.data.length, origLen - caplen + v.data.length);
  }
  return v;
}

function faulted(p: ReplayPacket, e: unknown): PacketVerdict {
  return { ret: 0, verdict: 'FAULT', route: 'drop', data: p.data, origLen: p.origLen ?? p.data.length, changed: false, error: (e as Error).message, insns: 0 };
}

function sessionRunner(program: Program, kind: ReplayKind, opts: RunnerOptions): PacketRunner {
  const rt = program.runtime;
  const memory = rt.memory;
  const engine = opts.engine ?? 'interp';
  const checked = opts.checked ?? !program.verified;
  let clock = 0n;
  const host = new ReplayHost(program.type, rt, program, engine);
  const base: RunEnv = {
    memory,
    stack: rt.stackFor(0),
    args: [],
    budget: opts.budget ?? RUN_BUDGET,
    checked,
    helpers: program.helpers,
    host,
    now: () => clock,
    random: rt.host.random,
    cpu: 0,
    log: (line: string) => rt.host.log(line),
  };
  program.compile(engine, checked);

  if (kind === 'xdp') {
    // One frame for every packet: the packet is copied in, the pointers reset.
    const s = new XdpSession(memory, { data: new Uint8Array(ETH_HLEN) });
    host.session = s;
    const env: RunEnv = { ...base, args: s.args };
    host.runEnv = env;
    const start = s.frame + XDP_PACKET_HEADROOM;
    return {
      kind,
      verdicts: VERDICT_ORDER[kind],
      run(p: ReplayPacket): PacketVerdict {
        const framed = frameOf(p.data, p.linkType ?? LINKTYPE_ETHERNET);
        if (typeof framed === 'string') return skipped(p, framed);
        const f = framed.frame;
        const len = f.length;
        if (len < ETH_HLEN) return skipped(p, `xdp: a packet of ${len} bytes is shorter than an Ethernet header (${ETH_HLEN})`);
        const linear = Math.min(len, XDP_MAX_LINEAR);
        if (len - linear > XDP_MAX_FRAGS * XDP_FRAME) return skipped(p, `xdp: a packet of ${len} bytes exceeds ${XDP_MAX_LINEAR} + ${XDP_MAX_FRAGS} fragments of ${XDP_FRAME}`);
        memory.refresh();
        memory.u8.set(linear === len ? f : f.subarray(0, linear), start);
        const frags: Uint8Array[] = [];
        for (let off = linear; off < len; off += XDP_FRAME) frags.push(f.slice(off, Math.min(len, off + XDP_FRAME)));
        s.frags = frags;
        s.dataMeta = start;
        s.data = start;
        s.dataEnd = start + linear;
        if (checked) {
          s.sync();
        } else {
          // Unchecked runs never look at the region table: write the pointers only.
          const dv = memory.view;
          dv.setUint32(s.ctxAddr, start, true);
          dv.setUint32(s.ctxAddr + 4, start + linear, true);
          dv.setUint32(s.ctxAddr + 8, start, true);
        }
        host.redirect = undefined;
        clock = p.ts;
        let r;
        try {
          r = program.engineRun(engine, env);
        } catch (e) {
          if (isTsbpfError(e) && e.name === 'RuntimeFault') return faulted(p, e);
          throw e;
        }
        const c = classify(kind, r.r0);
        let rewritten: Uint8Array | undefined;
        if (c.route !== 'drop') {
          memory.refresh();
          const u8 = memory.u8;
          let same = s.data === start && s.dataEnd === start + linear && s.frags.length === frags.length;
          for (let i = 0; same && i < frags.length; i++) same = s.frags[i] === frags[i];
          for (let i = 0; same && i < linear; i++) same = u8[start + i] === f[i];
          if (!same) {
            const lin = u8.subarray(s.data, s.dataEnd);
            if (s.frags.length === 0) {
              rewritten = lin.slice();
            } else {
              rewritten = new Uint8Array(lin.length + s.fragLen);
              rewritten.set(lin);
              let k = lin.length;
              for (const g of s.frags) { rewritten.set(g, k); k += g.length; }
            }
          }
        }
        const v = finishVerdict(kind, p, framed, c, r.insnCount, rewritten);
        if (host.redirect && v.route === 'redirect') v.redirect = host.redirect;
        return v;
      },
    };
  }

  // __sk_buff types: a session per packet (the skb's fields depend on the packet).
  const ctxIn = new Uint8Array(SK_BUFF_SIZE);
  const ctxView = new DataView(ctxIn.buffer);
  return {
    kind,
    verdicts: VERDICT_ORDER[kind],
    run(p: ReplayPacket): PacketVerdict {
      const framed = frameOf(p.data, p.linkType ?? LINKTYPE_ETHERNET);
      if (typeof framed === 'string') return skipped(p, framed);
      const f = framed.frame;
      const origLen = p.origLen ?? p.data.length;
      ctxView.setBigUint64(152, BigInt.asUintN(64, p.ts), true);
      const wl = origLen - p.data.length + f.length;
      ctxView.setUint32(160, wl >= f.length ? wl : 0, true);
      let s: SkbSession;
      try {
        // Socket filters see the frame from the MAC header (a packet socket); tc from the MAC header too.
        s = kind === 'socket_filter' ? new SkbSession(memory, { data: f, ctx: ctxIn }, true, program.type.name)
          : program.type.open({ memory, host: rt.host, checked }, { data: f, ctx: ctxIn }) as SkbSession;
      } catch (e) {
        if (isTsbpfError(e) && e.name === 'TestRunError') return skipped(p, e.message);
        throw e;
      }
      try {
        host.session = s;
        host.redirect = undefined;
        const env: RunEnv = { ...base, args: s.args, ...(s.packet ? { packet: s.packet } : {}) };
        host.runEnv = env;
        clock = p.ts;
        let r;
        try {
          r = program.engineRun(engine, env);
        } catch (e) {
          if (isTsbpfError(e) && e.name === 'RuntimeFault') return faulted(p, e);
          throw e;
        }
        const c = classify(kind, r.r0);
        let rewritten: Uint8Array | undefined;
        if (c.route !== 'drop' && kind === 'tc' && !(s.mac === s.data && sameBytes(memory.u8.subarray(s.mac, s.end), f))) {
          rewritten = memory.read(s.mac, s.end - s.mac);
        }
        const v = finishVerdict(kind, p, framed, c, r.insnCount, rewritten);
        if (kind === 'tc') {
          v.mark = memory.readU32(s.ctxAddr + 8);
          v.priority = memory.readU32(s.ctxAddr + 32);
        }
        if (host.redirect && v.route === 'redirect') v.redirect = host.redirect;
        return v;
      } finally {
        s.release();
      }
    },
  };
}

/** Every packet through Program.run, as BPF_PROG_TEST_RUN (tail calls need the Runtime's own loop). */
function testRunRunner(program: Program, kind: ReplayKind, opts: RunnerOptions): PacketRunner {
  const rt: Runtime = program.runtime;
  let clock = 0n;
  rt.host.now = () => clock;
  const engine = opts.engine ?? 'interp';
  const ctxIn = kind === 'tc' ? new Uint8Array(SK_BUFF_SIZE) : undefined;
  const ctxView = ctxIn ? new DataView(ctxIn.buffer) : undefined;
  const base = {
    engine,
    ...(opts.checked !== undefined ? { checked: opts.checked } : {}),
    ...(opts.budget !== undefined ? { budget: opts.budget } : {}),
  };
  return {
    kind,
    verdicts: VERDICT_ORDER[kind],
    run(p: ReplayPacket): PacketVerdict {
      const caplen = p.data.length;
      const origLen = p.origLen ?? caplen;
      const framed = frameOf(p.data, p.linkType ?? LINKTYPE_ETHERNET);
      if (typeof framed === 'string') return skipped(p, framed);
      clock = p.ts;
      let r;
      try {
        if (ctxView) {
          // tstamp = the capture time, wire_len = the original length (when it is not less than the frame).
          ctxView.setBigUint64(152, BigInt.asUintN(64, p.ts), true);
          const wl = origLen - caplen + framed.frame.length;
          ctxView.setUint32(160, wl >= framed.frame.length ? wl : 0, true);
        }
        r = program.run({ data: framed.frame, ...(ctxIn ? { ctx: ctxIn } : {}), ...base });
      } catch (e) {
        if (isTsbpfError(e) && e.name === 'TestRunError') return skipped(p, e.message);
        if (isTsbpfError(e) && e.name === 'RuntimeFault') return faulted(p, e);
        throw e;
      }
      const out = (): Uint8Array => {
        // XDP data_out starts at data_meta: ctx_out.data is the metadata length.
        if (kind === 'xdp' && r.ctx.length >= 4) {
          const meta = r.ctx[0]! | (r.ctx[1]! << 8) | (r.ctx[2]! << 16) | (r.ctx[3]! << 24);
          if (meta > 0 && meta <= r.data.length) return r.data.subarray(meta);
        }
        return r.data;
      };
      const c = classify(kind, r.retval);
      const v = finishVerdict(kind, p, framed, c, r.insnCount, c.route !== 'drop' ? out() : undefined);
      if (kind === 'tc') {
        const cv = new DataView(r.ctx.buffer, r.ctx.byteOffset, r.ctx.byteLength);
        v.mark = cv.getUint32(8, true);
        v.priority = cv.getUint32(32, true);
      }
      if (r.redirect && v.route === 'redirect') v.redirect = r.redirect;
      return v;
    },
  };
}

function skipped(p: ReplayPacket, why: string): PacketVerdict {
  return { ret: 0, verdict: 'SKIPPED', route: null, data: p.data, origLen: p.origLen ?? p.data.length, changed: false, error: why, insns: 0 };
}

// ---- the loop and its summary ---------------------------------------------------

export interface VerdictCount {
  packets: number;
  bytes: number;
}

export interface ReplaySummary {
  readonly kind: ReplayKind;
  packets: number;
  bytes: number;
  /** Per verdict name, in first-seen order. */
  readonly verdicts: Map<string, VerdictCount>;
  /** Per route. */
  readonly routes: Map<Route, VerdictCount>;
  /** Redirect targets: "ifindex N" or "map M[K] -> ifindex N" -> packets. */
  readonly redirects: Map<string, number>;
  /** Packets the program changed. */
  changed: number;
  faults: number;
  firstFault?: { packet: number; message: string };
  skipped: number;
  firstSkip?: { packet: number; message: string };
  insns: number;
  /** Capture timestamps of the first and last packet. */
  firstTs?: bigint;
  lastTs?: bigint;
  /** Milliseconds waiting for input, running programs, writing outputs, and in all. */
  readMs: number;
  runMs: number;
  writeMs: number;
  wallMs: number;
  /** Set when the input ended with an error (after the packets before it). */
  error?: string;
}

export function newSummary(kind: ReplayKind): ReplaySummary {
  return {
    kind, packets: 0, bytes: 0, verdicts: new Map(), routes: new Map(), redirects: new Map(), changed: 0, faults: 0,
    skipped: 0, insns: 0, readMs: 0, runMs: 0, writeMs: 0, wallMs: 0,
  };
}

/** Count one packet's verdict. */
export function account(s: ReplaySummary, p: ReplayPacket, v: PacketVerdict, index: number): void {
  const n = p.data.length;
  s.packets++;
  s.bytes += n;
  s.insns += v.insns;
  if (s.firstTs === undefined) s.firstTs = p.ts;
  s.lastTs = p.ts;
  let c = s.verdicts.get(v.verdict);
  if (!c) s.verdicts.set(v.verdict, (c = { packets: 0, bytes: 0 }));
  c.packets++;
  c.bytes += n;
  if (v.route) {
    let r = s.routes.get(v.route);
    if (!r) s.routes.set(v.route, (r = { packets: 0, bytes: 0 }));
    r.packets++;
    r.bytes += n;
  }
  if (v.changed) s.changed++;
  if (v.redirect) {
    const d = v.redirect;
    const k = d.map !== undefined ? `map ${d.map}[${d.key}] -> ifindex ${d.ifindex}` : `${d.helper === 'redirect' ? '' : d.helper + ' '}ifindex ${d.ifindex}${d.flags & 1 ? ' ingress' : ''}`;
    s.redirects.set(k, (s.redirects.get(k) ?? 0) + 1);
  }
  if (v.verdict === 'FAULT') {
    s.faults++;
    s.firstFault ??= { packet: index, message: v.error ?? '' };
  } else if (v.verdict === 'SKIPPED') {
    s.skipped++;
    s.firstSkip ??= { packet: index, message: v.error ?? '' };
  }
}

export interface ReplayOptions {
  /** Called for every packet with its verdict, in order (write it out here). May return a promise (backpressure). */
  readonly onPacket?: (packet: ReplayPacket, verdict: PacketVerdict, index: number) => void | Promise<void>;
  /** Called after each batch (progress). */
  readonly onBatch?: (summary: ReplaySummary) => void;
  /** Accumulate into this summary (so a caller keeps the counts when the input fails). */
  readonly summary?: ReplaySummary;
  /** Milliseconds clock (default performance.now). */
  readonly clock?: () => number;
}

function defaultClock(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

/**
 * Run every packet of `batches` through `runner`. Input errors (a damaged
 * capture) propagate after the packets before them were run and handed to
 * onPacket; the summary passed in `opts.summary` holds their counts.
 */
export async function replay(batches: AsyncIterable<readonly ReplayPacket[]> | Iterable<readonly ReplayPacket[]>,
  runner: PacketRunner, opts: ReplayOptions = {}): Promise<ReplaySummary> {
  const s = opts.summary ?? newSummary(runner.kind);
  const now = opts.clock ?? defaultClock;
  const onPacket = opts.onPacket;
  const t0 = now();
  let tRead = t0;
  let index = s.packets;
  const verdicts: PacketVerdict[] = [];
  try {
    for await (const batch of batches as AsyncIterable<readonly ReplayPacket[]>) {
      const t1 = now();
      s.readMs += t1 - tRead;
      // Run the whole batch, then hand out the verdicts: two clock reads per batch, not per packet.
      const n = batch.length;
      verdicts.length = n;
      for (let i = 0; i < n; i++) verdicts[i] = runner.run(batch[i]!);
      const t2 = now();
      s.runMs += t2 - t1;
      for (let i = 0; i < n; i++) {
        const p = batch[i]!;
        const v = verdicts[i]!;
        account(s, p, v, index);
        if (onPacket) {
          const w = onPacket(p, v, index);
          if (w) await w;
        }
        index++;
      }
      tRead = now();
      s.writeMs += tRead - t2;
      opts.onBatch?.(s);
    }
  } catch (e) {
    s.error = e instanceof Error ? e.message : String(e);
    throw e;
  } finally {
    s.wallMs = now() - t0;
  }
  return s;
}

// ---- reporting ------------------------------------------------------------------

const group = (n: number): string => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function rate(n: number, ms: number): string {
  if (ms <= 0) return '-';
  const r = (n * 1000) / ms;
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e4 ? `${(r / 1e3).toFixed(1)}k` : r.toFixed(0);
}

export function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1 << 10 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The verdict names of a summary in display order (known ones first). */
function orderedVerdicts(s: ReplaySummary): string[] {
  const known = VERDICT_ORDER[s.kind].filter((v) => s.verdicts.has(v));
  const rest = [...s.verdicts.keys()].filter((v) => !known.includes(v) && v !== 'FAULT' && v !== 'SKIPPED');
  return [...known, ...rest, ...['FAULT', 'SKIPPED'].filter((v) => s.verdicts.has(v))];
}

/** The text summary `tsbpf run` prints. */
export function formatSummary(s: ReplaySummary, title?: string): string {
  const secs = s.wallMs / 1000;
  let out = title ? `${title}\n` : '';
  const bps = s.wallMs > 0 ? (s.bytes * 1000) / s.wallMs : 0;
  out += `${group(s.packets)} packets, ${group(s.bytes)} bytes in ${secs.toFixed(secs < 10 ? 3 : 1)} s: `
    + `${rate(s.packets, s.wallMs)} packets/s, ${formatBytes(bps)}/s (${(bps * 8 / 1e6).toFixed(1)} Mbit/s)\n`;
  if (s.firstTs !== undefined && s.lastTs !== undefined && s.packets > 1) {
    const span = Number(s.lastTs - s.firstTs) / 1e9;
    if (span > 0) out += `capture span ${span.toFixed(3)} s (${rate(s.packets, span * 1000)} packets/s as captured)\n`;
  }
  const names = orderedVerdicts(s);
  const w = Math.max(8, ...names.map((n) => n.length));
  const wn = Math.max(...names.map((n) => group(s.verdicts.get(n)!.packets).length), 1);
  for (const n of names) {
    const c = s.verdicts.get(n)!;
    const pct = s.packets ? ((100 * c.packets) / s.packets).toFixed(1) : '0.0';
    out += `  ${n.padEnd(w)}  ${group(c.packets).padStart(wn)}  ${pct.padStart(5)}%  ${group(c.bytes)} bytes\n`;
  }
  for (const [k, n] of s.redirects) out += `  redirect to ${k}: ${group(n)}\n`;
  if (s.changed) out += `  ${group(s.changed)} packets rewritten by the program\n`;
  if (s.firstFault) out += `  first fault at packet ${s.firstFault.packet}: ${s.firstFault.message}\n`;
  if (s.firstSkip) out += `  ${group(s.skipped)} packets not run; first at packet ${s.firstSkip.packet}: ${s.firstSkip.message}\n`;
  return out;
}

/** Where the time went (--stats). */
export function formatStats(s: ReplaySummary, engine: string): string {
  const other = Math.max(0, s.wallMs - s.readMs - s.runMs - s.writeMs);
  const pct = (x: number): string => (s.wallMs > 0 ? ((100 * x) / s.wallMs).toFixed(1) : '0.0').padStart(5);
  const ms = (x: number): string => x.toFixed(1).padStart(9);
  let out = `time (${engine}):\n`;
  out += `  read   ${ms(s.readMs)} ms ${pct(s.readMs)}%\n`;
  out += `  run    ${ms(s.runMs)} ms ${pct(s.runMs)}%   ${s.packets ? ((s.runMs * 1e6) / s.packets).toFixed(0) : '-'} ns/packet, ${s.packets ? (s.insns / s.packets).toFixed(1) : '-'} insns/packet\n`;
  out += `  write  ${ms(s.writeMs)} ms ${pct(s.writeMs)}%\n`;
  out += `  other  ${ms(other)} ms ${pct(other)}%\n`;
  out += `  total  ${ms(s.wallMs)} ms\n`;
  return out;
}

/** The summary as JSON (bigints as decimal strings). */
export function summaryJson(s: ReplaySummary): Record<string, unknown> {
  const verdicts: Record<string, VerdictCount> = {};
  for (const n of orderedVerdicts(s)) verdicts[n] = { ...s.verdicts.get(n)! };
  const routes: Record<string, VerdictCount> = {};
  for (const [k, v] of s.routes) routes[k] = { ...v };
  return {
    type: s.kind,
    packets: s.packets,
    bytes: s.bytes,
    verdicts,
    routes,
    redirects: Object.fromEntries(s.redirects),
    rewritten: s.changed,
    faults: s.faults,
    ...(s.firstFault ? { first_fault: s.firstFault } : {}),
    skipped: s.skipped,
    ...(s.firstSkip ? { first_skip: s.firstSkip } : {}),
    insns: s.insns,
    ...(s.firstTs !== undefined ? { first_ts: s.firstTs.toString(), last_ts: s.lastTs!.toString() } : {}),
    seconds: s.wallMs / 1000,
    packets_per_second: s.wallMs > 0 ? (s.packets * 1000) / s.wallMs : 0,
    bytes_per_second: s.wallMs > 0 ? (s.bytes * 1000) / s.wallMs : 0,
    time_ms: { read: s.readMs, run: s.runMs, write: s.writeMs, total: s.wallMs },
    ...(s.error ? { error: s.error } : {}),
  };
}

/** One packet's line of `tsbpf run --json`. */
export function packetJson(p: ReplayPacket, v: PacketVerdict, index: number): Record<string, unknown> {
  return {
    packet: index,
    ts: p.ts.toString(),
    len: p.data.length,
    verdict: v.verdict,
    ret: v.ret,
    ...(v.route !== null ? { out: v.route } : {}),
    ...(v.changed ? { rewritten: true, out_len: v.data.length } : {}),
    ...(v.redirect ? { redirect: { ...v.redirect } } : {}),
    ...(v.mark !== undefined ? { mark: v.mark, priority: v.priority } : {}),
    ...(v.keep !== undefined ? { keep: v.keep } : {}),
    ...(v.error !== undefined ? { error: v.error } : {}),
  };
}
