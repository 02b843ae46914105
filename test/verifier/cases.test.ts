// Every case of test/fixtures/verifier/cases.txt: the verdict, the error
// code and the message the case expects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from '../../src/verifier/verifier.js';
import { readCases } from './cases.js';

const cases = readCases();

test('the case file has a passing and a failing case for the checks', () => {
  assert.ok(cases.length >= 100, `${cases.length} cases`);
  assert.ok(cases.filter((c) => c.expect.ok).length >= 40);
  assert.ok(cases.filter((c) => !c.expect.ok).length >= 50);
});

for (const c of cases) {
  test(`case: ${c.name}`, () => {
    const r = verify(c.insns, { progType: c.progType, maps: c.maps, unprivileged: c.unprivileged, logLevel: 1 });
    if (c.expect.ok) {
      assert.ok(r.ok, `expected accept, got ${r.error?.code}: ${r.error?.message}\n${r.log}`);
      return;
    }
    assert.ok(!r.ok, `expected reject ${c.expect.code}, but it verified\n${r.log}`);
    assert.equal(r.error!.code, c.expect.code, `${r.error!.message}`);
    assert.match(r.error!.message, c.expect.message!);
    assert.equal(r.error!.name, 'VerifierError');
    // The log names the error too.
    assert.ok(r.log.includes(r.error!.reason.split('\n')[0]!), r.log);
  });
}
