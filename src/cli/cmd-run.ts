// tsbpf run FILE.o --pcap IN   replay a capture through an XDP, TC or
// socket-filter program (the loop itself is src/runtime/replay.ts).
//
// Streaming end to end: the capture is read in 1 MiB chunks (a file, or
// standard input for `tcpdump -w - | tsbpf run ... --pcap -`), its packets go
// through the program one batch per chunk, and each verdict's output capture
// is written as it goes with backpressure, so memory stays constant whatever
// the size of the input. A damaged capture ends the run after the packets
// before the damage were run and written: the summary, then one line naming
// the record, exit code 1.

import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve as resolvePath } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { isTsbpfError } from '../errors.js';
import { CaptureParser, ChunkEncoder, createWriter, type PacketRecord, type WriterOptions } from '../net/index.js';
import {
  type PacketVerdict, type ReplaySummary, type Route, formatBytes, formatStats, formatSummary, newSummary, packetJson,
  packetRunner, replay, replayKind, summaryJson,
} from '../runtime/replay.js';
import { verifyProgram } from '../runtime/hooks.js';
import { type LoadedObject, Runtime } from '../runtime/runtime.js';
import { CmdError, CmdUsageError, parseCmd, readSpec, str } from './cmd-common.js';
import { selectPrograms } from './cmd-prog.js';
import { loadFor } from './cmd-testrun.js';
import type { Io } from './main.js';

export const RUN_HELP = `usage: tsbpf run FILE.o [--program P] [--type T] (--pcap IN | --pcap -)
                 [--out-pass F] [--out-drop F] [--out-tx F] [--out-redirect F]
                 [--engine interp|jit] [--json] [--stats] [--dump-maps]

Replay a capture (pcap or pcapng; '-' reads standard input, e.g. from
'tcpdump -w -') through an XDP, TC (sched_cls/sched_act) or socket-filter
program of FILE.o, one packet at a time, and print a verdict summary: packets
and bytes per verdict, packets and bytes per second.

  XDP            XDP_PASS/DROP/TX/REDIRECT/ABORTED; bpf_ktime_get_ns returns
                 the packet's capture timestamp; redirect targets are counted
  TC             TC_ACT_OK/SHOT/REDIRECT/PIPE/...; __sk_buff filled from the
                 packet (len, protocol, pkt_type, addresses, tstamp, wire_len)
  socket filter  the return value is the number of bytes kept, 0 drops

  --program P       function or section name (default: the only program)
  --type T          program type where the section does not say it
  --pcap IN         the capture to replay ('-': standard input)
  --out-pass F      write the packets that pass (ACCEPT, TC_ACT_OK...) to F
  --out-drop F      ... that are dropped (XDP_DROP/ABORTED, TC_ACT_SHOT, faults)
  --out-tx F        ... sent back out (XDP_TX)
  --out-redirect F  ... redirected (XDP_REDIRECT, TC_ACT_REDIRECT)
                    Output captures have the input's format, link type and
                    timestamps; rewritten packets are written as rewritten
                    (dropped ones as they arrived). '-' writes to stdout.
  --engine E        jit (default for verified programs) or interp (default otherwise)
  --json            one JSON line per packet ({"packet", "ts", "len",
                    "verdict", "ret", ...; TC: "mark", "priority"}), then
                    {"summary": {...}} (with "maps" when --dump-maps)
  --stats           where the time went: reading, running, writing
  --dump-maps       print the maps after the replay (bpftool map dump style)

A progress bar (rate, ETA) is shown on stderr for long replays of files when
stderr is a terminal (not for pipes, not with --json).
`;

const ROUTES: readonly Route[] = ['pass', 'drop', 'tx', 'redirect'];

/** Where the node-specific ends of the command come from (tests replace them). */
export interface RunEnvIo {
  readonly stdin?: Readable;
  readonly stdoutStream?: Writable;
  readonly stderrIsTty?: boolean;
  /** Terminal width for the progress bar. */
  readonly columns?: number;
  /** A replay shows its progress bar once it has run this long (default 1000 ms). */
  readonly progressAfterMs?: number;
}

/** One output capture, opened on the first packet (or at the end: an empty capture). */
class CaptureOut {
  private enc: ChunkEncoder | undefined;
  private stream: Writable | undefined;
  packets = 0;
  private failed: Error | undefined;

  constructor(readonly path: string, private readonly stdout: Writable | undefined) {}

  private open(opts: WriterOptions): void {
    this.enc = new ChunkEncoder(createWriter(opts), 1 << 16);
    if (this.path === '-') {
      this.stream = this.stdout ?? process.stdout;
    } else {
      const s: WriteStream = createWriteStream(this.path);
      s.on('error', (e) => { this.failed = e; });
      this.stream = s;
    }
  }

  /** Encode a packet; a promise only when a full chunk had to wait for the stream to drain. */
  add(rec: PacketRecord, v: PacketVerdict, opts: WriterOptions): Promise<void> | undefined {
    if (!this.enc) this.open(opts);
    if (this.failed) throw new CmdError(`${this.path}: ${this.failed.message}`);
    this.packets++;
    const full = this.enc!.add(v.data === rec.data && v.origLen === rec.origLen ? rec : {
      data: v.data, ts: rec.ts, origLen: v.origLen, linkType: rec.linkType, interfaceId: rec.interfaceId,
      ...(rec.flags !== undefined ? { flags: rec.flags } : {}), ...(rec.comment !== undefined ? { comment: rec.comment } : {}),
    });
    return full ? this.put(full) : undefined;
  }

  private put(chunk: Uint8Array): Promise<void> | undefined {
    if (this.stream!.write(chunk)) return undefined;
    return once(this.stream!, 'drain').then(() => undefined);
  }

  async close(opts: WriterOptions): Promise<void> {
    if (!this.enc) this.open(opts);
    for (const c of this.enc!.finish()) await this.put(c);
    if (this.failed) throw new CmdError(`${this.path}: ${this.failed.message}`);
    if (this.path !== '-') {
      const s = this.stream as WriteStream;
      s.end();
      await once(s, 'finish').catch((e: Error) => { throw new CmdError(`${this.path}: ${e.message}`); });
    }
  }
}

/** A progress line on stderr: shown once a replay has taken a second, redrawn at most 8 times a second. */
class Progress {
  private shown = false;
  private last = 0;
  private readonly t0 = performance.now();
  constructor(private readonly total: number, private readonly width: number, private readonly write: (s: string) => void,
    private readonly after = 1000) {}

  update(done: number, packets: number): void {
    const now = performance.now();
    if (now - this.t0 < this.after || now - this.last < 125) return;
    this.last = now;
    this.shown = true;
    const secs = (now - this.t0) / 1000;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const rate = packets / secs;
    const eta = frac > 0 ? (secs / frac) * (1 - frac) : 0;
    const mmss = (s: number): string => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
    const text = ` ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(this.total)} `
      + `${rate >= 1e6 ? (rate / 1e6).toFixed(2) + 'M' : (rate / 1e3).toFixed(1) + 'k'} pkt/s ETA ${mmss(eta)}`;
    const barW = Math.max(10, Math.min(40, this.width - text.length - 3));
    const fill = Math.round(frac * barW);
    this.write(`\r[${'#'.repeat(fill)}${'-'.repeat(barW - fill)}]${text}\x1b[K`);
  }

  clear(): void {
    if (this.shown) this.write('\r\x1b[K');
  }
}

/** Chunks of the input, batches of packets out; counts the bytes read. */
async function* packetBatches(source: Readable, parser: CaptureParser, onBytes: (n: number) => void): AsyncGenerator<PacketRecord[], void, undefined> {
  const drain = function* (): Generator<PacketRecord[], void, undefined> {
    const out: PacketRecord[] = [];
    try {
      let r: PacketRecord | null;
      while ((r = parser.next()) !== null) out.push(r);
    } catch (e) {
      if (out.length) yield out;
      throw e;
    }
    if (out.length) yield out;
  };
  for await (const c of source) {
    const chunk = c as Uint8Array;
    const bytes = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    onBytes(bytes.length);
    parser.push(bytes);
    yield* drain();
  }
  parser.close();
  yield* drain();
}

function dumpMaps(obj: LoadedObject): { text: string; json: Record<string, unknown> } {
  let text = '';
  const json: Record<string, unknown> = {};
  for (const [name, m] of obj.maps) {
    text += `map ${name}:\n`;
    try {
      const d = m.dump();
      text += d === '' || d.endsWith('\n') ? d : d + '\n';
      json[name] = m.dumpJson();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      text += `  (cannot dump: ${msg})\n`;
      json[name] = { error: msg };
    }
  }
  return { text, json };
}

export async function cmdRun(args: readonly string[], io: Io, env: RunEnvIo = {}): Promise<number> {
  try {
    return await runCommand(args, io, env);
  } catch (e) {
    if (e instanceof CmdUsageError) {
      io.stderr(`tsbpf: ${e.message}\nusage: see 'tsbpf run --help'\n`);
      return 2;
    }
    if (e instanceof CmdError || isTsbpfError(e)) {
      io.stderr(`tsbpf: error: ${(e as Error).message.split('\n')[0]}\n`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`tsbpf: internal error: ${msg}\n`);
    if (io.env['TSBPF_DEBUG'] && e instanceof Error && e.stack) io.stderr(e.stack + '\n');
    return 1;
  }
}

async function runCommand(args: readonly string[], io: Io, env: RunEnvIo): Promise<number> {
  const { values, positionals } = parseCmd('run', args, {
    program: { type: 'string' }, type: { type: 'string' }, pcap: { type: 'string' },
    'out-pass': { type: 'string' }, 'out-drop': { type: 'string' }, 'out-tx': { type: 'string' }, 'out-redirect': { type: 'string' },
    engine: { type: 'string' }, json: { type: 'boolean' }, stats: { type: 'boolean' }, 'dump-maps': { type: 'boolean' },
  });
  if (values['help']) { io.stdout(RUN_HELP); return 0; }
  if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `run: unexpected argument '${positionals[1]}'` : 'run: missing FILE');
  const file = positionals[0]!;
  const input = str(values['pcap']);
  if (input === undefined) throw new CmdUsageError('run: missing --pcap IN (a capture file, or - for standard input)');
  const engineArg = str(values['engine']);
  if (engineArg !== undefined && engineArg !== 'interp' && engineArg !== 'jit') throw new CmdUsageError(`run: unknown engine '${engineArg}' (interp or jit)`);
  const json = values['json'] === true;
  const outs = new Map<Route, CaptureOut>();
  const seen = new Map<string, string>();
  for (const r of ROUTES) {
    const p = str(values[`out-${r}`]);
    if (p === undefined) continue;
    const key = p === '-' ? '-' : resolvePath(p);
    if (seen.has(key)) throw new CmdUsageError(`run: --out-${r} and --out-${seen.get(key)} name the same file '${p}'`);
    if (input !== '-' && key === resolvePath(input)) throw new CmdUsageError(`run: --out-${r} would overwrite the input '${p}'`);
    seen.set(key, r);
    outs.set(r, new CaptureOut(p, env.stdoutStream));
  }
  const toStdout = seen.has('-');
  if (toStdout && json) throw new CmdUsageError('run: --json prints to stdout; write captures to files, not -');
  if (toStdout && io.stdoutIsTty) throw new CmdUsageError('run: not writing a capture to a terminal (redirect stdout or give a file)');
  // Text meant for the user goes to stderr when stdout carries a capture.
  const say = toStdout ? io.stderr : (s: string) => io.stdout(s);

  let size = 0;
  if (input !== '-') {
    try {
      const st = statSync(input);
      if (st.isDirectory()) throw new CmdError(`${input}: is a directory`);
      size = st.size;
    } catch (e) {
      if (e instanceof CmdError) throw e;
      const code = (e as { code?: string }).code;
      throw new CmdError(`${input}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    }
  }

  // The program.
  const spec = readSpec(file);
  const progs = selectPrograms(spec, file, str(values['program']));
  if (progs.length === 0) throw new CmdError(`${file}: no programs`);
  const rt = new Runtime({ host: { log: (l) => io.stderr(`log: ${l.replace(/\n$/, '')}\n`) } });
  const obj = loadFor(file, spec, str(values['type']), rt);
  let chosen = progs.map((p) => obj.program(p.name)!);
  if (chosen.length > 1) {
    const replayable = chosen.filter((p) => replayKind(p.type.name));
    if (replayable.length === 1) chosen = replayable;
    else if (replayable.length === 0) {
      throw new CmdError(`${file}: no program replays packets (${chosen.map((p) => `${p.name}: ${p.type.name}`).join(', ')}); xdp, sched_cls (tc), sched_act and socket_filter programs do (override with --type and --program)`);
    } else throw new CmdUsageError(`${file}: ${chosen.length} programs (${chosen.map((p) => p.name).join(', ')}); choose one with --program`);
  }
  const prog = chosen[0]!;
  if (!replayKind(prog.type.name)) {
    throw new CmdError(`${file}: program '${prog.name}' is ${prog.type.name}; packets replay through xdp, sched_cls (tc), sched_act and socket_filter programs (override with --type)`);
  }
  // Verified programs run without per-access checks, as in the kernel; a
  // program the verifier refuses still replays, checked, with a warning.
  let checked = !prog.verified;
  let verifyNote = prog.verified ? 'verified at load' : '';
  if (checked) {
    // A tail call runs another program of the object with the same checks: all must verify.
    const tailCalls = prog.insns.some((x) => x.op.kind === 'call' && x.src === 0 && x.imm === 12);
    let current = prog;
    try {
      for (const p of tailCalls ? [prog, ...obj.programs.filter((x) => x !== prog)] : [prog]) {
        current = p;
        verifyProgram(p, { mapSpecs: spec.maps });
      }
      checked = false;
      verifyNote = tailCalls ? 'verified, with every tail-call target' : 'verified';
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      verifyNote = `not verified (${current.name}: ${msg}): every access checked`;
      io.stderr(`tsbpf: warning: ${file}: ${current.name}: the verifier refuses it: ${msg}; replaying in checked mode\n`);
    }
  }
  // The JIT is the default once the program is verified; checked replays default to the interpreter.
  const engine: 'interp' | 'jit' = (engineArg as 'interp' | 'jit' | undefined) ?? (checked ? 'interp' : 'jit');
  const runner = packetRunner(prog, { engine, checked });
  try {
    prog.compile(engine, checked);
  } catch (e) {
    if (isTsbpfError(e)) throw new CmdError(`${file}: ${prog.name}: ${e.message}`);
    throw e;
  }

  // Input and outputs.
  const source: Readable = input === '-' ? (env.stdin ?? process.stdin) : createReadStream(input, { highWaterMark: 1 << 20 });
  const parser = new CaptureParser();
  let writerOpts: WriterOptions | undefined;
  const outOptions = (): WriterOptions => {
    if (writerOpts) return writerOpts;
    const info = parser.info;
    const first = parser.interfaces[0];
    if (info?.format === 'pcapng') {
      writerOpts = { format: 'pcapng', resolution: 'ns', userAppl: 'tsbpf run' };
    } else {
      writerOpts = {
        format: 'pcap', resolution: first?.tsresol === 6 ? 'us' : 'ns',
        ...(first ? { linkType: first.linkType, snaplen: first.snaplen > 0 ? first.snaplen : 262144 } : {}),
        ...(info ? { littleEndian: info.littleEndian } : {}),
      };
    }
    return writerOpts;
  };
  const stderrTty = env.stderrIsTty ?? process.stderr.isTTY === true;
  const progress = input !== '-' && !json && stderrTty ? new Progress(size, env.columns ?? process.stderr.columns ?? 80, io.stderr, env.progressAfterMs) : undefined;
  let read = 0;

  const summary = newSummary(runner.kind);
  let failure: unknown;
  try {
    await replay(packetBatches(source, parser, (n) => { read += n; }), runner, {
      summary,
      onBatch: progress ? (s) => progress.update(read, s.packets) : undefined,
      onPacket: (rec, v, i) => {
        let wait: Promise<unknown> | undefined;
        if (json) {
          io.stdout(JSON.stringify(packetJson(rec, v, i)) + '\n');
          // A slow reader of the JSON lines holds the replay back instead of filling memory.
          if ((i & 1023) === 1023 && process.stdout.writableNeedDrain) wait = once(process.stdout, 'drain');
        }
        const out = v.route === null ? undefined : outs.get(v.route);
        const w = out ? out.add(rec as PacketRecord, v, outOptions()) : undefined;
        return wait || w ? Promise.all([wait, w]).then(() => undefined) : undefined;
      },
    });
  } catch (e) {
    failure = e;
    if (!source.destroyed && input !== '-') source.destroy();
  } finally {
    progress?.clear();
  }
  // Close the outputs: every packet before a failure is written.
  const tClose = performance.now();
  for (const o of outs.values()) await o.close(outOptions());
  summary.writeMs += performance.now() - tClose;
  summary.wallMs += performance.now() - tClose;

  const inputName = input === '-' ? 'stdin' : input;
  const dump = values['dump-maps'] ? dumpMaps(obj) : undefined;
  if (json) {
    io.stdout(JSON.stringify({
      summary: { program: prog.name, type: prog.type.name, engine, input: inputName, ...summaryJson(summary) },
      ...(dump ? { maps: dump.json } : {}),
    }) + '\n');
  } else {
    let text = formatSummary(summary, `${prog.name} (${prog.type.name}, ${engine}) on ${inputName}`);
    for (const [r, o] of outs) text += `  wrote ${o.packets} packets to ${o.path === '-' ? 'stdout' : o.path} (--out-${r})\n`;
    if (values['stats']) text += formatStats(summary, `${engine}, ${verifyNote}`);
    if (dump) text += dump.text;
    say(text);
  }
  if (failure !== undefined) {
    if (isTsbpfError(failure) && failure.name === 'PcapError') {
      io.stderr(`tsbpf: error: ${inputName}: ${failure.message} (the ${summary.packets} packets before it were replayed)\n`);
      return 1;
    }
    throw failure;
  }
  return 0;
}

export type { ReplaySummary };
