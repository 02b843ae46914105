// Bounded differential fuzzing of the JIT against the interpreter (the long
// campaign is fuzz-long.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CampaignStats, describe, fuzzOne } from './fuzz.js';

test('random valid programs: JIT and interpreter agree (R0, count, memory, stack, faults)', () => {
  const stats: CampaignStats = { programs: 0, runs: 0, faults: {}, ok: 0 };
  const bad: string[] = [];
  // A fixed number of programs (about 1 s on an idle machine), so the test is deterministic.
  for (let seed = 1; seed <= 80; seed++) {
    for (const d of fuzzOne(seed, stats)) if (bad.length < 3) bad.push(describe(d));
  }
  assert.deepEqual(bad, []);
  // The campaign must exercise both endings: normal exits and faults.
  assert.ok(stats.ok > stats.runs / 4, `too few clean runs: ${JSON.stringify(stats)}`);
  assert.ok(Object.keys(stats.faults).length >= 1, `no faults: ${JSON.stringify(stats)}`);
});
