// The benchmark's own failures (a missing object, a suite that does not fit
// its object, an engine that disagrees where it must not).

import { TsbpfError } from '../src/errors.js';

/** Codes: BENCH_OBJECT, BENCH_SUITE, BENCH_KERNEL, BENCH_ARGS, BENCH_ENGINE. */
export class BenchError extends TsbpfError {
  constructor(code: string, message: string) {
    super('BenchError', code, message);
  }
}
