// Edits, deletes and replies: the sender's edit and delete reach every device of both people
// (the editing one included), refusals carry the server's code, history shows the result, a
// device that was away learns of both through sync, and a reply names the message it answers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryStorage, nextEvent, serverPerFile } from './support/clients.js';

const suite = serverPerFile();

async function aliceAndBob() {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const arrived = nextEvent(bob, 'message');
  const sent = await alice.send(bob.user.id, 'first draft');
  await arrived;
  return { alice, bob, sent };
}

test('an edit is an event on every device of both people, the editing one included', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const aliceElsewhere = suite.people.client({ token: alice.token });
  await aliceElsewhere.connect();
  const bobHears = nextEvent(bob, 'edited');
  const otherDeviceHears = nextEvent(aliceElsewhere, 'edited');
  const editingDeviceHears = nextEvent(alice, 'edited');

  assert.equal(await alice.edit(sent.messageId, 'final text'), undefined);
  const edited = await editingDeviceHears;
  assert.equal(edited.messageId, sent.messageId);
  assert.equal(edited.chatId, sent.chatId);
  assert.equal(edited.content, 'final text');
  assert.ok(Math.abs(edited.editedAt - Date.now()) < 60_000, 'editedAt is in milliseconds');
  assert.deepEqual(await bobHears, edited);
  assert.deepEqual(await otherDeviceHears, edited);

  const [row] = await bob.history(alice.user);
  assert.equal(row.content, 'final text');
  assert.equal(row.editedAt, edited.editedAt);
});

test('a delete is an event for both; history keeps the messages as deleted, without content', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const second = await alice.send(bob.user.id, 'second thoughts');
  const bobHears = nextEvent(bob, 'deleted');
  const aliceHears = nextEvent(alice, 'deleted');

  await alice.delete([sent.messageId, second.messageId]);
  const deleted = await aliceHears;
  assert.deepEqual(deleted.messageIds, [sent.messageId, second.messageId]);
  assert.equal(deleted.chatId, sent.chatId);
  assert.ok(Math.abs(deleted.deletedAt - Date.now()) < 60_000, 'deletedAt is in milliseconds');
  assert.deepEqual(await bobHears, deleted);

  const rows = await alice.history(bob.user);
  assert.deepEqual(rows.map((m) => [m.id, m.deleted, m.content]), [[sent.messageId, true, ''], [second.messageId, true, '']]);

  // Deleting again changes nothing and nobody hears of it; the call still completes.
  const events = [];
  bob.on('deleted', (d) => events.push(d));
  await alice.delete(sent.messageId);
  assert.equal((await alice.edit(second.messageId, 'too late').catch((e) => e)).code, 'invalid_field');
  assert.deepEqual(events, []);
});

test('changes made at once are each answered: a refusal rejects the one it is about', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const others = [];
  for (const text of ['b', 'c']) others.push((await alice.send(bob.user.id, text)).messageId);
  const results = await Promise.allSettled([
    alice.edit(sent.messageId, 'first edit'),
    bob.edit(sent.messageId, 'not bob\'s to edit'),
    alice.edit(sent.messageId + 100_000, 'no such message'),
    alice.delete([others[0]]),
    alice.edit(others[1], 'last edit'),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal(results[1].reason.code, 'forbidden');
  assert.equal(results[2].reason.code, 'not_found');
  const rows = await alice.history(bob.user);
  assert.deepEqual(rows.map((m) => m.content), ['first edit', '', 'last edit']);
});

test('edits and deletes of what is not yours, or of no message, are refused with the server\'s code', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const notYours = await bob.edit(sent.messageId, 'hijacked').catch((e) => e);
  assert.equal(notYours.code, 'forbidden');
  assert.equal(notYours.refType, 14);
  assert.equal((await bob.delete([sent.messageId]).catch((e) => e)).code, 'forbidden');
  assert.equal((await alice.edit(sent.messageId + 100_000, 'x').catch((e) => e)).code, 'not_found');
  assert.equal((await alice.delete([]).catch((e) => e)).code, 'invalid_field');
  // The refusals changed nothing, and the session carries on.
  await alice.edit(sent.messageId, 'still mine');
  assert.equal((await bob.history(alice.user)).at(-1).content, 'still mine');
});

test('a device that was away learns of edits and deletes through sync', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const other = await alice.send(bob.user.id, 'to be deleted');
  const storage = memoryStorage();
  const laptop = suite.people.client({ token: bob.token, storage });
  const firstSync = nextEvent(laptop, 'synced');
  await laptop.connect();
  await firstSync;
  laptop.close();

  await alice.edit(sent.messageId, 'changed while you were away');
  await alice.delete([other.messageId]);

  const back = suite.people.client({ token: bob.token, storage });
  const edited = nextEvent(back, 'edited');
  const deleted = nextEvent(back, 'deleted');
  const synced = nextEvent(back, 'synced');
  await back.connect();
  assert.equal((await edited).content, 'changed while you were away');
  assert.deepEqual((await deleted).messageIds, [other.messageId]);
  await synced;
});

test('a reply names the message it answers, in the recipient\'s message and in history', async () => {
  const { alice, bob, sent } = await aliceAndBob();
  const arrived = nextEvent(alice, 'message');
  const reply = await bob.send(alice.user.id, 'an answer', { replyTo: sent.messageId });
  const message = await arrived;
  assert.equal(message.id, reply.messageId);
  assert.equal(message.replyTo, sent.messageId);
  const rows = await alice.history(bob.user);
  assert.equal(rows.at(-1).replyTo, sent.messageId);
  assert.equal(rows[0].replyTo, undefined);

  // A message of another conversation cannot be answered here.
  const carol = await suite.people.connected('carol');
  const elsewhere = await alice.send(carol.user.id, 'not for bob');
  const refused = await bob.send(alice.user.id, 'wrong thread', { replyTo: elsewhere.messageId }).catch((e) => e);
  assert.equal(refused.code, 'invalid_field');
});
