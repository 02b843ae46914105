// What a program type contributes to a run: how the context and the packet
// are laid out in linear memory before the run (as BPF_PROG_TEST_RUN lays
// them out in the kernel), what comes back after it (data_out, ctx_out),
// and which helpers the type may call.
//
// A Session is one test run of one program type: created by `open` from the
// user's data_in / ctx_in, run any number of times (repeats share the
// session, as the kernel's repeat loop shares its buffers), then `finish`ed
// and `release`d.

import type { HelperSpec } from '../helpers.js';
import type { LinearMemory } from '../memory.js';

/** Inputs of one test run (BPF_PROG_TEST_RUN's data_in and ctx_in). */
export interface TestRunInput {
  /** Packet bytes (data_in), for packet program types. */
  readonly data?: Uint8Array;
  /** Context bytes (ctx_in): the kernel's struct of the type (xdp_md, __sk_buff...) or the host's context. */
  readonly ctx?: Uint8Array;
}

/** What a run leaves behind (data_out, ctx_out), in the kernel's user-visible form. */
export interface TestRunOutput {
  readonly data: Uint8Array;
  readonly ctx: Uint8Array;
}

/** The host's side of tracing hooks and lookups: what "the kernel" looks like to a program. */
export interface HostEnv {
  /** Kernel (and user) memory that bpf_probe_read* can read: address -> bytes. */
  readonly kernelMemory: KernelMemory;
  /** The task get_current_* report. */
  task: TaskInfo;
  /** Routes for bpf_fib_lookup. */
  fibRoutes: FibRoute[];
  /** Kernel stack (instruction pointers, innermost first) for bpf_get_stackid / bpf_get_stack. */
  kernelStack: bigint[];
  /** User stack for BPF_F_USER_STACK. */
  userStack: bigint[];
  /** bpf_trace_printk / bpf_snprintf-to-log output. */
  log: (line: string) => void;
  /** Monotonic clock in ns (bpf_ktime_get_ns); boot time adds `bootOffsetNs`. */
  now: () => bigint;
  /** Nanoseconds the machine was suspended (ktime_get_boot_ns - ktime_get_ns). */
  bootOffsetNs: bigint;
  /** Kernel tick rate for bpf_jiffies64 (CONFIG_HZ). */
  hz: number;
  /** Random source for bpf_get_prandom_u32. */
  random: () => number;
  /** Interface indexes that exist (ctx_in ingress_ifindex may name them); lo = 1 always does. */
  interfaces: number[];
}

export interface TaskInfo {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  /** Up to 15 bytes (TASK_COMM_LEN 16 with the NUL). */
  comm: string;
  /** bpf_get_current_cgroup_id. */
  cgroupId: bigint;
  /** bpf_get_current_task: an address in kernel memory (0 if none). */
  taskAddr: bigint;
}

/** A route for bpf_fib_lookup: longest prefix wins. */
export interface FibRoute {
  readonly family: 2 | 10;
  /** Destination prefix, 4 (IPv4) or 16 (IPv6) bytes in network order. */
  readonly prefix: Uint8Array;
  readonly prefixLen: number;
  /** Egress interface. */
  readonly ifindex: number;
  /** Next hop (absent: directly connected; the destination is the neighbour). */
  readonly gateway?: Uint8Array;
  /** Source and neighbour MAC addresses (absent smac: zeros; absent dmac: no neighbour entry). */
  readonly smac?: Uint8Array;
  readonly dmac?: Uint8Array;
  readonly mtu?: number;
  /** 'unicast' (default), 'blackhole', 'unreachable', 'prohibit'. */
  readonly kind?: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';
}

/** Sparse byte-addressed memory outside the linear memory (64-bit kernel addresses). */
export class KernelMemory {
  private readonly ranges: { start: bigint; bytes: Uint8Array; user: boolean }[] = [];

  /** Make `bytes` readable at `addr` (user: also/only by probe_read_user). Later mappings win over earlier ones. */
  map(addr: bigint, bytes: Uint8Array, opts: { user?: boolean } = {}): this {
    this.ranges.unshift({ start: BigInt.asUintN(64, addr), bytes, user: opts.user ?? false });
    return this;
  }

  clear(): void {
    this.ranges.length = 0;
  }

  /** `size` bytes at `addr`, or undefined when any byte is unmapped. */
  read(addr: bigint, size: number, user = false): Uint8Array | undefined {
    const a = BigInt.asUintN(64, addr);
    for (const r of this.ranges) {
      if (r.user !== user) continue;
      const off = a - r.start;
      if (off >= 0n && off + BigInt(size) <= BigInt(r.bytes.length)) {
        const o = Number(off);
        return r.bytes.subarray(o, o + size);
      }
    }
    return undefined;
  }

  /** Bytes readable from `addr` on (up to `max`), for the *_str variants: the longest mapped run. */
  readUpTo(addr: bigint, max: number, user = false): Uint8Array | undefined {
    const a = BigInt.asUintN(64, addr);
    for (const r of this.ranges) {
      if (r.user !== user) continue;
      const off = a - r.start;
      if (off >= 0n && off < BigInt(r.bytes.length)) {
        const o = Number(off);
        return r.bytes.subarray(o, Math.min(r.bytes.length, o + max));
      }
    }
    return undefined;
  }
}

/** Where a session lives: the runtime's memory, its host, the safety mode. */
export interface SessionEnv {
  readonly memory: LinearMemory;
  readonly host: HostEnv;
  readonly checked: boolean;
}

/** One test run's context and packet in linear memory. */
export interface Session {
  /** R1..R5 at entry (R1 = the context). */
  readonly args: ReadonlyArray<number | bigint>;
  /** The packet LD_ABS / LD_IND read (skb types: from skb->data). */
  packet?: { start: number; length: number };
  /** data_out and ctx_out after the last run. */
  finish(): TestRunOutput;
  /** Free the session's memory (regions go with it). */
  release(): void;
}

/** One field of a context struct (docs, CLI, ctx JSON). */
export interface CtxField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** The program may write it. */
  readonly writable?: boolean;
  readonly note?: string;
}

/** Families whose helpers follow the same rules. */
export type HelperFamily = 'xdp' | 'skb' | 'tracing' | 'sock' | 'raw';

export interface ProgType {
  /** enum bpf_prog_type (0 = the raw memory convention: R1 = buffer, R2 = length). */
  readonly id: number;
  /** Kernel name as bpftool prints it: 'xdp', 'sched_cls', 'socket_filter'... */
  readonly name: string;
  /** Other names accepted by --type (libbpf section names, bpftool aliases). */
  readonly aliases: readonly string[];
  readonly family: HelperFamily;
  /** Size of the context struct (ctx_in / ctx_out), 0 when the type has none. */
  readonly ctxSize: number;
  /** Context fields, for documentation and ctx decoding. */
  readonly fields: readonly CtxField[];
  /** Type-specific helpers (added to the runtime's shared registry). */
  readonly helpers: readonly HelperSpec[];
  /** Shared helper ids this type may not call (the kernel's per-type func_proto refusals). */
  readonly denied?: ReadonlySet<number>;
  /** Lay out the context and packet of one test run. Throws TestRunError on input the kernel refuses. */
  open(env: SessionEnv, input: TestRunInput): Session;
}

/** A redirect decided by bpf_redirect / bpf_redirect_map, recorded for the host. */
export interface RedirectRecord {
  readonly helper: 'redirect' | 'redirect_map' | 'redirect_peer' | 'redirect_neigh' | 'clone_redirect';
  readonly ifindex: number;
  readonly flags: number;
  /** redirect_map: the map's name and the key. */
  readonly map?: string;
  readonly key?: number;
}

/** What helpers see as `ctx.host` during a run of the Runtime. */
export interface RunHost {
  readonly session: Session;
  readonly env: HostEnv;
  /** The program type running (its family decides helper behaviour). */
  readonly progType: ProgType;
  /** Last redirect decision of the run. */
  redirect?: RedirectRecord;
  /** Packets sent by bpf_clone_redirect. */
  readonly clones: { ifindex: number; flags: number; data: Uint8Array }[];
  /**
   * Call a BPF function of the running program (a callback address loaded
   * with `lddw rX, func`) with up to 4 arguments; returns its R0. Used by
   * bpf_loop and bpf_for_each_map_elem.
   */
  callback(fn: bigint, args: readonly bigint[], pc: number): bigint;
}
