// History pages (8 -> 9) with statuses of own messages, and user search (6 -> 7), including
// several requests in flight at once and an ERR that settles the oldest.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverPerFile, nextEvent, uniqueName } from './support/clients.js';

const suite = serverPerFile();

test('history pages backwards with beforeId, oldest first in each page', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { acks: false });
  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push((await alice.send(bob.user.id, `message ${i}`)).messageId);

  const newest = await alice.history(bob.user, { limit: 2 });
  assert.deepEqual(newest.map((m) => m.id), ids.slice(3));
  assert.deepEqual(newest.map((m) => m.content), ['message 4', 'message 5']);
  const older = await alice.history(bob.user, { beforeId: newest[0].id, limit: 2 });
  assert.deepEqual(older.map((m) => m.id), ids.slice(1, 3));
  const oldest = await alice.history(bob.user.id, { beforeId: older[0].id, limit: 2 });
  assert.deepEqual(oldest.map((m) => m.id), ids.slice(0, 1));
  assert.deepEqual(await alice.history(bob.user.id, { beforeId: ids[0] }), []);

  const [first] = oldest;
  assert.equal(first.fromId, alice.user.id);
  assert.equal(first.from, alice.user.username);
  assert.equal(first.toId, bob.user.id);
  assert.equal(first.to, undefined, 'the other side\'s name is unknown when only an id was given');
  assert.ok(Math.abs(first.createdAt - Date.now()) < 60_000, 'createdAt is in milliseconds');
});

test('own messages in history are stored, then delivered, then read', async () => {
  const alice = await suite.people.connected('alice');
  // Bob is offline: the message stays pending, stored and not delivered.
  const bob = suite.people.client();
  await bob.register(uniqueName('bob'), 'correct horse battery');
  const stored = await alice.send(bob.user.id, 'not yet received');
  assert.equal((await alice.history(bob.user)).at(-1).status, 'stored');

  // Bob's device confirms receipts: its ACK of the pending message makes it delivered.
  const received = nextEvent(alice, 'received', (r) => r.messageIds.includes(stored.messageId));
  await bob.connect();
  await received;
  assert.equal((await alice.history(bob.user)).at(-1).status, 'delivered');

  const read = nextEvent(alice, 'read');
  bob.markRead(alice.user, [stored.messageId]);
  await read;
  const [mine] = await alice.history(bob.user);
  assert.equal(mine.status, 'read');

  // Seen from Bob's side, the message is not his own: no status, names from the User given.
  const [theirs] = await bob.history(alice.user);
  assert.equal(theirs.status, undefined);
  assert.equal(theirs.from, alice.user.username);
  assert.equal(theirs.to, bob.user.username);
});

test('history requests in flight at once are answered in order', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const carol = await suite.people.connected('carol');
  await alice.send(bob.user.id, 'to bob');
  await alice.send(carol.user.id, 'to carol');
  const [withBob, withCarol, withBobAgain] = await Promise.all([
    alice.history(bob.user), alice.history(carol.user), alice.history(bob.user, { limit: 1 }),
  ]);
  assert.deepEqual(withBob.map((m) => m.content), ['to bob']);
  assert.deepEqual(withCarol.map((m) => m.content), ['to carol']);
  assert.deepEqual(withBobAgain.map((m) => m.content), ['to bob']);
});

test('search finds people by username and display name', async () => {
  const alice = await suite.people.connected('alice');
  const zed = suite.people.client();
  const username = uniqueName('zeddicus');
  await zed.register(username, 'correct horse battery', 'Wizard of the First Order');

  const byName = await alice.search(username);
  assert.deepEqual(byName, [{ id: zed.user.id, username, name: 'Wizard of the First Order' }]);
  const byDisplayName = await alice.search('first order');
  assert.ok(byDisplayName.some((u) => u.id === zed.user.id));
  assert.deepEqual(await alice.search('nobody-has-this-name'), []);
});

test('search respects limit, and concurrent searches are answered in order', async () => {
  const alice = await suite.people.connected('alice');
  for (let i = 0; i < 3; i++) await suite.people.client().register(uniqueName('limited'), 'correct horse battery');
  const [one, all, none] = await Promise.all([
    alice.search('limited', { limit: 1 }), alice.search('limited'), alice.search('zzzz-nothing'),
  ]);
  assert.equal(one.length, 1);
  assert.equal(all.length, 3);
  assert.deepEqual(none, []);
});

test('an ERR about a search rejects that search only', async () => {
  const alice = await suite.people.connected('alice');
  const tooLong = 'x'.repeat(65);
  const [refused, answered] = await Promise.allSettled([alice.search(tooLong), alice.search('alice')]);
  assert.equal(refused.status, 'rejected');
  assert.equal(refused.reason.code, 'invalid_field');
  assert.equal(refused.reason.refType, 6);
  assert.equal(answered.status, 'fulfilled');
  assert.ok(answered.value.some((u) => u.id === alice.user.id));
});
