// The device's stream position without a server: it moves only over contiguous events, events
// above a gap are remembered (boundedly) so a replay does not report them twice, SYNCED moves it
// to the latest, and it is kept per key in the storage given.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamPosition, parsePosition, positionKey } from '../src/stream-position.js';
import { memoryStorage } from './support/clients.js';

test('positions are JSON numbers or strings of digits', () => {
  assert.equal(parsePosition(12), 12);
  assert.equal(parsePosition('12'), 12);
  assert.equal(parsePosition(0), 0);
  for (const bad of [-1, 1.5, '1e3', '', 'x', null, undefined, 2 ** 60, {}]) assert.equal(parsePosition(bad), null, String(bad));
});

test('the position moves over contiguous events only; SYNCED moves it to the latest', () => {
  const storage = memoryStorage();
  const position = new StreamPosition(storage);
  position.use('k');
  assert.equal(position.value, null);
  position.record(3);  // before SYNCED there is nothing to be contiguous with
  assert.equal(position.value, null);
  assert.ok(position.had(3));
  position.synced(2);
  assert.equal(position.value, 3, 'the event above the latest joins it');
  position.record(5);
  assert.equal(position.value, 3, 'a gap at 4');
  assert.ok(position.had(5) && !position.had(4));
  position.record(4);
  assert.equal(position.value, 5);
  assert.equal(storage.getItem('k'), '5');
  position.synced(9);
  assert.equal(position.value, 9);
  assert.ok(position.had(7));
});

test('each key has its own position, read from storage; clear() forgets it there too', () => {
  const storage = memoryStorage({ a: '40', b: 'garbage' });
  const position = new StreamPosition(storage);
  position.use('a');
  assert.equal(position.value, 40);
  position.record(41);
  position.use('b');
  assert.equal(position.value, null);
  position.use('a');
  assert.equal(position.value, 41);
  position.clear();
  assert.equal(position.value, null);
  assert.equal(storage.getItem('a'), null);
});

test('events above a gap are remembered up to the bound, the lowest forgotten first', () => {
  const position = new StreamPosition(null, 3);
  position.use('k');
  position.synced(10);
  for (const pos of [12, 13, 14, 15]) position.record(pos);
  assert.ok(!position.had(12), 'forgotten: reported again after a replay, never lost');
  assert.ok(position.had(13) && position.had(15));
  position.record(11);
  assert.equal(position.value, 11, 'past the forgotten one the position does not move');
});

test('a storage that throws leaves the position in memory', () => {
  const failing = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('full'); }, removeItem() {} };
  const position = new StreamPosition(failing);
  position.use('k');
  position.synced(4);
  assert.equal(position.value, 4);
});

test('the key names the server and the token\'s user', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 42, exp: 1 })).toString('base64url');
  assert.equal(positionKey('http://h:1', `e30.${payload}.sig`), 'chatrix.sync http://h:1 42');
  assert.equal(positionKey('http://h:1', 'not-a-jwt'), null);
});
