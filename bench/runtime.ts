// The Runtime driver: the suite through src/runtime/runtime.ts, what users
// run. Until the Runtime exists this returns undefined and the harness falls
// back to the direct driver.

import type { Driver } from './engines.js';

export async function runtimeDriver(): Promise<Driver | undefined> {
  return undefined;
}
