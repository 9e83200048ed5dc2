// Edits and deletes waiting for the server, without a server: a barrier's answer resolves its
// change, an ERR before it rejects the oldest change in flight, a drop sends what had no answer
// again, and an event in the catch-up settles a change sent before the drop.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingChanges } from '../src/changes.js';

const settled = (promise) => promise.then(() => 'resolved', (e) => `rejected ${e.code}`);

test('barriers resolve their changes; an ERR rejects the oldest one in flight', async () => {
  const changes = new PendingChanges(10);
  const first = settled(changes.add('edit', [1], 'e1'));
  const second = settled(changes.add('edit', [2], 'e2'));
  const third = settled(changes.add('delete', [3], 'd3'));
  const [c1, c2, c3] = changes.takeWaiting();
  assert.deepEqual([c1.frame, c2.frame, c3.frame], ['e1', 'e2', 'd3']);
  changes.reached(c1);
  assert.equal(changes.refuse('edit', { code: 'forbidden' }), true);
  changes.reached(c2);
  assert.equal(changes.refuse('edit', { code: 'forbidden' }), false, 'a delete is the oldest in flight now');
  changes.reached(c3);
  assert.deepEqual(await Promise.all([first, second, third]), ['resolved', 'rejected forbidden', 'resolved']);
});

test('after a drop, changes without an answer go out again; the catch-up may settle them first', async () => {
  const changes = new PendingChanges(10);
  const applied = settled(changes.add('delete', [7, 8], 'd'));
  const unknown = settled(changes.add('edit', [9], 'e'));
  changes.takeWaiting();
  changes.dropped();
  changes.settle('delete', [8]);
  assert.equal(await applied, 'resolved');
  const again = changes.takeWaiting();
  assert.deepEqual(again.map((c) => c.frame), ['e']);
  changes.reached(again[0]);
  assert.equal(await unknown, 'resolved');
});

test('an event settles no change that was never sent, and the queue is bounded', async () => {
  const changes = new PendingChanges(1);
  const edit = settled(changes.add('edit', [5], 'e'));
  changes.settle('edit', [5]);
  assert.equal(changes.takeWaiting().length, 1, 'another device\'s edit does not stand for this one');
  assert.equal(await settled(changes.add('edit', [6], 'x')), 'rejected queue_full');
  changes.rejectAll({ code: 'closed' });
  assert.equal(await edit, 'rejected closed');
});
