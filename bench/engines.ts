// tsbpf's side of the benchmark: one program of the suite on one packet,
// ready to be run by each engine.
//
// Two drivers implement it:
// - runtime.ts: through the Runtime (loadObject, maps, BPF_PROG_TEST_RUN
//   semantics) -- what users run;
// - direct.ts: the engines driven by hand on an xdp_md context laid out in a
//   LinearMemory (programs without maps only); used when the Runtime is not
//   available.

/** What a run left behind: the kernel's test-run outputs. */
export interface Outcome {
  readonly retval: number;
  readonly data: Uint8Array;
  /** Map contents by map name: hex key -> hex value. */
  readonly maps: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export type EngineName = 'interp' | 'jit' | 'jitBatch';

export interface Instance {
  /** Instructions of the linked program. */
  readonly insns: number;
  /** Instructions executed per run (the interpreter's count of one run). */
  readonly executed: number;
  /**
   * Perform at least `runs` runs with one engine on the prepared packet
   * (state carries over from run to run, as in the kernel's repeat loop);
   * returns how many were done (the batch engine rounds up to its batch).
   */
  run(engine: EngineName, runs: number): number;
  /** One run from fresh maps and packet, for the agreement check. */
  once(engine: EngineName): Outcome;
  /** How the engines are driven, for the report. */
  readonly how: string;
  /** Something about this program's run worth a note in the table (e.g. not verified by tsbpf). */
  readonly note?: string;
  /** `runs` separate test runs of one run each (the Runtime's per-call cost), when the driver has such calls. */
  perCall?(engine: 'interp' | 'jit', runs: number): number;
}

export interface Driver {
  readonly name: string;
  /** Why a program cannot be run by this driver (undefined when it can). */
  unsupported(program: string): string | undefined;
  open(program: string, packet: Uint8Array): Instance;
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
