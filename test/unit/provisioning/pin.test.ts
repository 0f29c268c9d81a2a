// The console PIN: scrypt hash in a 0600 file, exponential slow-down that survives restarts,
// fail-closed on a damaged file, factory reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinStateText, pinDelayMs, pinProblem, PinStore } from '../../../provisioning/pin.ts';
import { ConsoleError } from '../../../provisioning/errors.ts';
import { FakeClock, PIN, TEST_SCRYPT } from './helpers.ts';

function setup(): { dir: string; path: string; clock: FakeClock; store: () => PinStore } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pin-'));
  const path = join(dir, 'outpost.json.pin');
  const clock = new FakeClock();
  return { dir, path, clock, store: () => new PinStore({ path, clock, scrypt: TEST_SCRYPT }) };
}

test('no file: no PIN; set writes a 0600 file holding a salted scrypt hash, never the PIN', async () => {
  const { dir, path, store } = setup();
  try {
    const s = store();
    await s.load();
    assert.equal(s.isSet, false);
    await assert.rejects(s.verify(PIN), (e: ConsoleError) => e.code === 'no-pin');
    await s.set(PIN);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(PIN));
    const st = JSON.parse(text);
    assert.equal(st.kdf, 'scrypt');
    assert.equal(Buffer.from(st.hash, 'base64').length, 32);
    assert.deepEqual(await s.verify(PIN), { ok: true });
    // same PIN, another file: another salt, another hash
    const other = JSON.parse(await createPinStateText(PIN, TEST_SCRYPT));
    assert.notEqual(other.salt, st.salt);
    assert.notEqual(other.hash, st.hash);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wrong PINs slow down exponentially, persisted across restarts, and reset after a right one', async () => {
  const { dir, path, clock, store } = setup();
  try {
    writeFileSync(path, await createPinStateText(PIN, TEST_SCRYPT), { mode: 0o600 });
    let s = store();
    await s.load();
    const expected = [1000, 2000, 4000, 8000];
    for (const [i, delay] of expected.entries()) {
      assert.deepEqual(await s.verify('000000'), { ok: false, reason: 'wrong', retryInMs: delay }, `attempt ${i + 1}`);
      // the right PIN is not even checked before the delay has passed
      assert.deepEqual(await s.verify(PIN), { ok: false, reason: 'wait', retryInMs: delay });
      await clock.advance(delay - 1);
      assert.equal((await s.verify(PIN)).ok, false);
      await clock.advance(1);
    }
    s = store(); // a restart keeps the count
    await s.load();
    assert.equal(s.failures, 4);
    assert.deepEqual(await s.verify('111111'), { ok: false, reason: 'wrong', retryInMs: 16000 });
    assert.equal(s.waitMs(), 16000);
    await clock.advance(16000);
    assert.deepEqual(await s.verify(PIN), { ok: true });
    assert.equal(s.failures, 0);
    assert.deepEqual(await s.verify('111111'), { ok: false, reason: 'wrong', retryInMs: 1000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the delay is capped at an hour, and a clock that jumped back does not lock out longer', async () => {
  assert.equal(pinDelayMs(0), 0);
  assert.equal(pinDelayMs(13), 3600_000);
  assert.equal(pinDelayMs(1000), 3600_000);
  const { dir, path, clock, store } = setup();
  try {
    const st = JSON.parse(await createPinStateText(PIN, TEST_SCRYPT));
    writeFileSync(path, JSON.stringify({ ...st, failures: 3, nextAttemptAt: clock.now() + 365 * 86400_000 }), { mode: 0o600 });
    const s = store();
    await s.load();
    assert.equal(s.waitMs(), 4000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged PIN file locks changes (fail closed) and says so', async () => {
  const { dir, path, store } = setup();
  try {
    for (const bad of ['{', '{"version":1}', JSON.stringify({ version: 1, kdf: 'scrypt', N: 1000, r: 8, p: 1, salt: 'AAAAAAAAAAA=', hash: 'AAAA', failures: 0, nextAttemptAt: 0 }), 'x'.repeat(10_000)]) {
      writeFileSync(path, bad, { mode: 0o600 });
      const s = store();
      await s.load();
      assert.equal(s.isSet, true);
      await assert.rejects(s.verify(PIN), (e: ConsoleError) => e.code === 'pin-state' && /reflashed/.test(e.message));
      await assert.rejects(s.set('593017'), (e: ConsoleError) => e.code === 'pin-state');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weak PINs are refused', () => {
  assert.match(pinProblem('12345') ?? '', /at least 6/);
  assert.match(pinProblem('111111') ?? '', /repeats/);
  assert.match(pinProblem('123456') ?? '', /run of digits/);
  assert.match(pinProblem('987654') ?? '', /run of digits/);
  assert.match(pinProblem('abc\ndef') ?? '', /control/);
  assert.equal(pinProblem('482913'), null);
  assert.equal(pinProblem('correct horse'), null);
});

test('factory reset restores the image PIN, or removes the PIN when there is none', async () => {
  const { dir, path, store } = setup();
  try {
    const s = store();
    await s.load();
    await s.set(PIN);
    const factory = join(dir, 'factory.pin');
    writeFileSync(factory, await createPinStateText('image-pin-77', TEST_SCRYPT));
    await s.resetTo(factory);
    assert.equal((await s.verify(PIN)).ok, false);
    await s.resetTo(join(dir, 'missing'));
    assert.equal(s.isSet, false);
    assert.equal(existsSync(path), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
