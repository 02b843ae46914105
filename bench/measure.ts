// Timing. Each figure is the median of several samples; a sample runs a
// program enough times to last at least `minMs`. Samples of the engines of
// one row are taken in turn (interp, JIT, JIT batch, kernel, interp, ...)
// so that a change of load on the machine hits every column alike.
//
// The clock is the process's CPU time (user + system, process.cpuUsage) by
// default, not the wall clock: on a shared machine a wall-clock sample also
// counts the time other processes held the CPU. The kernel's test run
// excludes it too (its timer stops while the test-run loop reschedules).
// `clock: 'wall'` uses performance.now() instead.

export type Clock = 'cpu' | 'wall';

export interface MeasureOptions {
  /** Shortest duration of one sample, in ms. */
  readonly minMs: number;
  /** Samples; the median is reported. */
  readonly reps: number;
  /** Time spent running before the first sample (JIT tier-up, caches). */
  readonly warmupMs: number;
  readonly clock: Clock;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Milliseconds on the chosen clock. */
export function now(clock: Clock): number {
  if (clock === 'wall') return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Something timed: performs at least `runs` runs, returns how many it did. */
export type RunFn = (runs: number) => number;

/** A RunFn with its run count per sample fixed by warming up and calibrating. */
export class Timed {
  readonly samples: number[] = [];
  private runs = 1;

  constructor(private readonly fn: RunFn, private readonly o: MeasureOptions) {
    const c = o.clock;
    const warmEnd = now('wall') + o.warmupMs;
    for (;;) {
      const t0 = now(c);
      const did = fn(this.runs);
      const dt = now(c) - t0;
      if (dt >= o.minMs && now('wall') >= warmEnd) { this.runs = did; break; }
      if (dt < o.minMs) this.runs = Math.min(1e9, Math.max(did * 2, Math.ceil((did * o.minMs * 1.2) / Math.max(dt, 0.001))));
    }
  }

  /** Take one sample (ns per run). */
  sample(): number {
    const t0 = now(this.o.clock);
    const did = this.fn(this.runs);
    const ns = ((now(this.o.clock) - t0) * 1e6) / did;
    this.samples.push(ns);
    return ns;
  }

  get ns(): number {
    return median(this.samples);
  }
}

/** Time one RunFn alone: warm-up, calibration, `reps` samples, median ns per run. */
export function measure(fn: RunFn, o: MeasureOptions): number {
  const t = new Timed(fn, o);
  for (let i = 0; i < o.reps; i++) t.sample();
  return t.ns;
}
