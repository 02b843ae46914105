// Program types whose context is a buffer the host provides: the raw
// memory convention (R1 = buffer, R2 = length, as uBPF and bpf_conformance
// run programs), BPF_PROG_TYPE_SYSCALL (a user buffer copied back), and the
// tracing and cgroup-socket families (kprobe's struct pt_regs, a
// tracepoint's raw record, raw_tracepoint's u64 argument array,
// perf_event's bpf_perf_event_data, sock_ops, cgroup sock, sock_addr).
// The kernel's test run supports only some of these; tsbpf runs them all
// against the bytes the host gives as ctx_in (zeros when absent), and
// returns the context as the program left it in ctx_out.
//
// Pointer fields of these contexts (bpf_sock_ops.sk, skb_data, ...) hold
// whatever the host wrote there: addresses in linear memory if the host
// placed objects there, kernel addresses for bpf_probe_read_kernel to
// resolve through the host's kernel memory.

import { TestRunError } from '../../errors.js';
import type { LinearMemory } from '../memory.js';
import { GUARD } from './common.js';
import type { CtxField, HelperFamily, ProgType, Session, SessionEnv, TestRunInput, TestRunOutput } from './types.js';

class BufferSession implements Session {
  readonly args: (number | bigint)[];
  packet?: { start: number; length: number };
  private readonly addr: number;
  private readonly size: number;

  constructor(private readonly memory: LinearMemory, bytes: Uint8Array, writable: boolean, readonly raw: boolean, region: string) {
    this.size = bytes.length;
    this.addr = memory.alloc(bytes.length + GUARD, 16);
    memory.write(this.addr, bytes);
    if (bytes.length > 0) memory.addRegion(this.addr, bytes.length, region, writable);
    this.args = raw ? [bytes.length > 0 ? this.addr : 0, bytes.length] : [this.addr];
    if (raw) this.packet = { start: this.addr, length: bytes.length };
  }

  finish(): TestRunOutput {
    const b = this.memory.read(this.addr, this.size);
    return this.raw ? { data: b, ctx: new Uint8Array(0) } : { data: new Uint8Array(0), ctx: b };
  }

  release(): void {
    this.memory.free(this.addr);
  }
}

interface BufferTypeDef {
  readonly id: number;
  readonly name: string;
  readonly aliases: string[];
  readonly family: HelperFamily;
  /** Fixed context size (0: as long as ctx_in). */
  readonly ctxSize: number;
  readonly fields: CtxField[];
  /** The program may write its context. */
  readonly writable: boolean;
  /** Largest ctx_in (variable-size contexts). */
  readonly maxCtx?: number;
}

function bufferType(d: BufferTypeDef): ProgType {
  return {
    id: d.id, name: d.name, aliases: d.aliases, family: d.family, ctxSize: d.ctxSize, fields: d.fields, helpers: [],
    open(env: SessionEnv, input: TestRunInput): Session {
      if (input.data && input.data.length > 0) {
        throw new TestRunError('TESTRUN_DATA', `${d.name}: programs of this type take no data_in, only a context (ctx_in)`, 22);
      }
      let bytes: Uint8Array;
      if (d.ctxSize > 0) {
        const c = input.ctx ?? new Uint8Array(0);
        if (c.length > d.ctxSize) throw new TestRunError('TESTRUN_CTX', `${d.name}: ctx_in of ${c.length} bytes exceeds the context (${d.ctxSize} bytes)`, 22);
        bytes = new Uint8Array(d.ctxSize);
        bytes.set(c);
      } else {
        bytes = (input.ctx ?? new Uint8Array(0)).slice();
        if (d.maxCtx !== undefined && bytes.length > d.maxCtx) {
          throw new TestRunError('TESTRUN_CTX', `${d.name}: ctx_in of ${bytes.length} bytes exceeds ${d.maxCtx}`, 22);
        }
        if (bytes.length === 0) bytes = new Uint8Array(8);
      }
      return new BufferSession(env.memory, bytes, d.writable, false, 'ctx');
    },
  };
}

const u = (name: string, offset: number, size = 4, writable = false, note?: string): CtxField =>
  ({ name, offset, size, ...(writable ? { writable } : {}), ...(note ? { note } : {}) });

/** x86-64 struct pt_regs (the order of the kernel's entry code). */
export const PT_REGS_FIELDS: readonly CtxField[] = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss',
].map((n, i) => u(n, i * 8, 8, false, n === 'di' ? 'first argument (PT_REGS_PARM1)' : n === 'ax' ? 'return value (PT_REGS_RC)' : undefined));

/** The raw memory convention of uBPF and bpf_conformance: R1 = data, R2 = its length; data_out = the buffer after the run. */
export const RAW: ProgType = {
  id: 0, name: 'raw', aliases: ['raw', 'mem', 'unspec'], family: 'raw', ctxSize: 0, fields: [], helpers: [],
  open(env: SessionEnv, input: TestRunInput): Session {
    return new BufferSession(env.memory, (input.data ?? new Uint8Array(0)).slice(), true, true, 'mem');
  },
};

export const SYSCALL = bufferType({
  id: 31, name: 'syscall', aliases: ['syscall'], family: 'tracing', ctxSize: 0, maxCtx: 65536, fields: [], writable: true,
});

export const KPROBE = bufferType({
  id: 2, name: 'kprobe', aliases: ['kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'ksyscall', 'usdt'], family: 'tracing',
  ctxSize: 168, fields: [...PT_REGS_FIELDS], writable: false,
});

export const TRACEPOINT = bufferType({
  id: 5, name: 'tracepoint', aliases: ['tracepoint', 'tp'], family: 'tracing', ctxSize: 0, maxCtx: 65536,
  fields: [u('common_type', 0, 2), u('common_flags', 2, 1), u('common_preempt_count', 3, 1), u('common_pid', 4, 4)], writable: false,
});

export const RAW_TRACEPOINT = bufferType({
  id: 17, name: 'raw_tracepoint', aliases: ['raw_tracepoint', 'raw_tp'], family: 'tracing', ctxSize: 0, maxCtx: 12 * 8,
  fields: Array.from({ length: 12 }, (_, i) => u(`args[${i}]`, i * 8, 8)), writable: false,
});

export const RAW_TRACEPOINT_WRITABLE = bufferType({
  id: 24, name: 'raw_tracepoint_writable', aliases: ['raw_tracepoint_writable', 'raw_tp.w'], family: 'tracing', ctxSize: 0,
  maxCtx: 12 * 8, fields: Array.from({ length: 12 }, (_, i) => u(`args[${i}]`, i * 8, 8)), writable: false,
});

export const TRACING = bufferType({
  id: 26, name: 'tracing', aliases: ['tracing', 'fentry', 'fexit', 'fmod_ret', 'tp_btf', 'iter'], family: 'tracing', ctxSize: 0,
  maxCtx: 12 * 8, fields: Array.from({ length: 12 }, (_, i) => u(`args[${i}]`, i * 8, 8)), writable: false,
});

export const PERF_EVENT = bufferType({
  id: 7, name: 'perf_event', aliases: ['perf_event'], family: 'tracing', ctxSize: 184,
  fields: [...PT_REGS_FIELDS.map((f) => ({ ...f, name: `regs.${f.name}` })), u('sample_period', 168, 8), u('addr', 176, 8)], writable: false,
});

export const SOCK_OPS = bufferType({
  id: 13, name: 'sock_ops', aliases: ['sock_ops', 'sockops'], family: 'sock', ctxSize: 216, writable: true,
  fields: [
    u('op', 0), u('reply', 4, 4, true, 'union with args[4]'), u('family', 20), u('remote_ip4', 24), u('local_ip4', 28),
    u('remote_ip6', 32, 16), u('local_ip6', 48, 16), u('remote_port', 64), u('local_port', 68), u('is_fullsock', 72),
    u('snd_cwnd', 76), u('srtt_us', 80), u('bpf_sock_ops_cb_flags', 84), u('state', 88), u('rtt_min', 92),
    u('snd_ssthresh', 96), u('rcv_nxt', 100), u('snd_nxt', 104), u('snd_una', 108), u('mss_cache', 112),
    u('ecn_flags', 116), u('rate_delivered', 120), u('rate_interval_us', 124), u('packets_out', 128),
    u('retrans_out', 132), u('total_retrans', 136), u('segs_in', 140), u('data_segs_in', 144), u('segs_out', 148),
    u('data_segs_out', 152), u('lost_out', 156), u('sacked_out', 160), u('sk_txhash', 164, 4, true),
    u('bytes_received', 168, 8), u('bytes_acked', 176, 8), u('sk', 184, 8), u('skb_data', 192, 8),
    u('skb_data_end', 200, 8), u('skb_len', 208), u('skb_tcp_flags', 212),
  ],
});

export const CGROUP_SOCK = bufferType({
  id: 9, name: 'cgroup_sock', aliases: ['cgroup_sock', 'cgroup/sock', 'cgroup/sock_create', 'cgroup/sock_release', 'cgroup/post_bind4', 'cgroup/post_bind6'],
  family: 'sock', ctxSize: 80, writable: true,
  fields: [
    u('bound_dev_if', 0, 4, true), u('family', 4), u('type', 8), u('protocol', 12), u('mark', 16, 4, true),
    u('priority', 20, 4, true), u('src_ip4', 24), u('src_ip6', 28, 16), u('src_port', 44), u('dst_port', 48, 2),
    u('dst_ip4', 52), u('dst_ip6', 56, 16), u('state', 72), u('rx_queue_mapping', 76),
  ],
});

export const CGROUP_SOCK_ADDR = bufferType({
  id: 18, name: 'cgroup_sock_addr', aliases: ['cgroup_sock_addr', 'cgroup/connect4', 'cgroup/connect6', 'cgroup/bind4', 'cgroup/bind6', 'cgroup/sendmsg4', 'cgroup/sendmsg6', 'cgroup/recvmsg4', 'cgroup/recvmsg6'],
  family: 'sock', ctxSize: 72, writable: true,
  fields: [
    u('user_family', 0), u('user_ip4', 4, 4, true), u('user_ip6', 8, 16, true), u('user_port', 24, 4, true),
    u('family', 28), u('type', 32), u('protocol', 36), u('msg_src_ip4', 40, 4, true), u('msg_src_ip6', 44, 16, true),
    u('sk', 64, 8),
  ],
});

export const CGROUP_SYSCTL = bufferType({
  id: 23, name: 'cgroup_sysctl', aliases: ['cgroup_sysctl', 'cgroup/sysctl'], family: 'sock', ctxSize: 8, writable: true,
  fields: [u('write', 0), u('file_pos', 4, 4, true)],
});
