// Two people on one server: profile and previews on connect, sends resolving on DELIVERED,
// the recipient's message with RECEIVED and the read notice back, the sender's other device.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverPerFile, nextEvent } from './support/clients.js';

const suite = serverPerFile();

test('connect resolves with the profile, then previews arrive', async () => {
  const client = suite.people.client();
  const { user } = await client.register('connie', 'correct horse battery', 'Connie');
  const states = [];
  client.on('state', (state) => states.push(state));
  const previews = nextEvent(client, 'previews');
  const profile = await client.connect();
  assert.deepEqual(profile, user);
  assert.deepEqual(await previews, []);
  assert.equal(client.state, 'open');
  assert.deepEqual(states, ['connecting', 'open']);
  // connect() on an open client answers at once.
  assert.deepEqual(await client.connect(), user);
});

test('a send resolves on DELIVERED; the recipient gets it, RECEIVED and the read notice follow', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');

  const arrived = nextEvent(bob, 'message');
  const received = nextEvent(alice, 'received');
  const sending = alice.send(bob.user.username, 'hello bob');
  assert.equal(typeof sending.mark, 'string');
  const delivered = await sending;
  assert.equal(delivered.mark, sending.mark);
  assert.equal(delivered.duplicate, false);
  assert.ok(delivered.messageId > 0);

  const message = await arrived;
  assert.equal(message.id, delivered.messageId);
  assert.equal(message.content, 'hello bob');
  assert.equal(message.fromId, alice.user.id);
  assert.equal(message.from, alice.user.username);
  assert.equal(message.fromName, alice.user.name);
  assert.equal(message.toId, bob.user.id);
  assert.equal(message.chatId, delivered.chatId);
  assert.equal(message.own, false);
  assert.ok(Math.abs(message.createdAt - Date.now()) < 60_000, 'createdAt is in milliseconds');

  // Bob's client ACKs on its own: that is what makes the server send RECEIVED.
  const receipt = await received;
  assert.deepEqual(receipt.messageIds, [delivered.messageId]);
  assert.equal(receipt.toId, bob.user.id);

  const read = nextEvent(alice, 'read');
  bob.markRead(message.from, [message.id]);
  assert.deepEqual((await read).messageIds, [delivered.messageId]);
});

test('sends to a user id or a User object, with a mark of your own', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const byId = await alice.send(bob.user.id, 'by id', { mark: 41 });
  assert.equal(byId.mark, 41);
  const byUser = await alice.send(bob.user, 'by user', { mark: 'mine-42' });
  assert.equal(byUser.mark, 'mine-42');
  assert.ok(byUser.messageId > byId.messageId);
});

test('a message from your other device arrives as own (SENT)', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const aliceElsewhere = suite.people.client({ token: alice.token });
  await aliceElsewhere.connect();
  const mirrored = nextEvent(aliceElsewhere, 'message');
  const delivered = await alice.send(bob.user.username, 'from my phone');
  const message = await mirrored;
  assert.equal(message.own, true);
  assert.equal(message.id, delivered.messageId);
  assert.equal(message.status, 'stored');
  assert.equal(message.toId, bob.user.id);
});

test('a refused send rejects with the server\'s code and its mark', async () => {
  const alice = await suite.people.connected('alice');
  const sending = alice.send('no_such_person', 'hello?');
  const toNobody = await sending.catch((e) => e);
  assert.equal(toNobody.code, 'unknown_recipient');
  assert.equal(toNobody.refType, 0);
  assert.equal(toNobody.mark, sending.mark);
  const toSelf = await alice.send(alice.user.id, 'me').catch((e) => e);
  assert.equal(toSelf.code, 'self_message');
  // The connection carries on.
  const bob = await suite.people.connected('bob');
  assert.ok((await alice.send(bob.user.id, 'still here')).messageId > 0);
});

test('previews on the next connect show the conversation and its unread count', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  await alice.send(bob.user.id, 'one');
  const last = await alice.send(bob.user.id, 'two');
  const bobAgain = suite.people.client({ token: bob.token, acks: false });
  const previews = nextEvent(bobAgain, 'previews');
  await bobAgain.connect();
  const [preview] = await previews;
  assert.equal(preview.user.id, alice.user.id);
  assert.equal(preview.user.username, alice.user.username);
  assert.equal(preview.chatId, last.chatId);
  assert.equal(preview.unread, 2);
  assert.equal(preview.lastMessage.id, last.messageId);
  assert.equal(preview.lastMessage.content, 'two');
  assert.equal(preview.lastMessage.fromId, alice.user.id);
  assert.deepEqual(bobAgain.latestPreviews, [preview]);
});

test('an ERR no request waits for (a refused read mark) is an error event', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const { messageId } = await alice.send(bob.user.id, 'mine, not yours to mark');
  const error = nextEvent(alice, 'error');
  alice.markRead(bob.user, [messageId]);
  const refused = await error;
  assert.equal(refused.code, 'forbidden');
  assert.equal(refused.refType, 2);
  assert.equal(alice.state, 'open');
});
