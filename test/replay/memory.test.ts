// Replay streams in constant memory: a capture piped into `tsbpf run --pcap -`
// (about 48 MB here; test/replay/replay-1g.ts does 1 GB) keeps the process
// well under 200 MB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayPiped } from './traffic-source.js';

test('a 48 MB capture through stdin, drops written: memory stays flat', { timeout: 600_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-mem-'));
  try {
    const drop = join(tmp, 'drop.pcap');
    const r = await replayPiped(48 << 20, ['--engine', 'jit', '--out-drop', drop]);
    assert.equal(r.code, 0, r.err);
    const packets = Number(/^([\d,]+) packets/m.exec(r.out)![1]!.replace(/,/g, ''));
    assert.ok(packets > 500_000, `${packets} packets`);
    assert.ok(statSync(drop).size > 1 << 20, 'drops written');
    assert.ok(r.maxRssKb > 0 && r.maxRssKb < 200 * 1024, `peak RSS ${r.maxRssKb} KB`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
