// Long differential campaign, JIT vs interpreter (not part of `npm test`):
//
//   node dist/test/jit/fuzz-long.js [--count 100000] [--seed 1000] [--inputs 3]
//
// Prints progress, fault statistics and every disagreement (with the
// program's listing); exit status 1 if any. Under `node --test` it does nothing.
import { type CampaignStats, describe, fuzzOne } from './fuzz.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`--${name} wants a non-negative integer`);
    process.exit(2);
  }
  return v;
}

function main(): void {
  const count = arg('count', 100_000);
  const seed = arg('seed', 1000);
  const inputs = arg('inputs', 3);
  const stats: CampaignStats = { programs: 0, runs: 0, faults: {}, ok: 0 };
  let found = 0;
  const t0 = Date.now();
  for (let s = seed; s < seed + count; s++) {
    for (const d of fuzzOne(s, stats, inputs)) {
      found++;
      if (found <= 20) console.log(`\nDISAGREEMENT ${describe(d)}\n`);
    }
    if ((s - seed + 1) % 1000 === 0 || s === seed + count - 1) {
      const secs = (Date.now() - t0) / 1000;
      console.log(`${stats.programs} programs, ${stats.runs} runs (${stats.ok} clean, faults ${JSON.stringify(stats.faults)}), ` +
        `${found} disagreements, ${secs.toFixed(1)} s`);
    }
  }
  process.exit(found ? 1 : 0);
}

if (!process.env['NODE_TEST_CONTEXT']) main();
