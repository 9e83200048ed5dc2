// Devices in step: each client is a device with its own storage. A device that connects later
// catches up from its stored position (messages, read state), learns its position from SYNCED,
// hears live what the user's other devices read, and starts afresh when its position expired.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryStorage, nextEvent, nextEvents, serverPerFile } from './support/clients.js';
import { positionKey } from '../src/stream-position.js';

const suite = serverPerFile();

/** A device of the user signed in on `client`, with storage of its own, connected. */
async function otherDevice(client, storage = memoryStorage()) {
  const device = suite.people.client({ token: client.token, storage });
  const synced = nextEvent(device, 'synced');
  await device.connect();
  await synced;
  return device;
}

test('a device learns its position from SYNCED and keeps it in its storage', async () => {
  const alice = await suite.people.connected('alice');
  const storage = memoryStorage();
  const phone = suite.people.client({ token: alice.token, storage });
  assert.equal(phone.syncPosition, null);
  const synced = nextEvent(phone, 'synced');
  await phone.connect();
  const { pos } = await synced;
  assert.equal(pos, 0, 'a new user\'s stream is empty');
  assert.equal(phone.syncPosition, 0);
  assert.deepEqual(storage.entries(), { [positionKey(suite.server.url, alice.token)]: '0' });

  const bob = await suite.people.connected('bob');
  const delivered = await phone.send(bob.user.id, 'moves my position');
  assert.ok(phone.syncPosition > 0, 'DELIVERED carries the position of my message');
  assert.equal(storage.getItem(positionKey(suite.server.url, alice.token)), String(phone.syncPosition));
  assert.ok(delivered.messageId > 0);
});

test('a second device that connects later catches up on messages and read state', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { storage: memoryStorage() });
  const laptopStorage = memoryStorage();
  const firstVisit = await otherDevice(bob, laptopStorage);
  const before = firstVisit.syncPosition;
  firstVisit.close();

  // While the laptop is away, two messages reach Bob's phone, which reads the first.
  const arrived = nextEvents(bob, 'message', 2);
  const first = await alice.send(bob.user.id, 'one');
  const second = await alice.send(bob.user.id, 'two');
  await arrived;
  const read = nextEvent(alice, 'read');
  bob.markRead(alice.user, [first.messageId]);
  await read;

  const laptop = suite.people.client({ token: bob.token, storage: laptopStorage });
  const messages = [];
  const readStates = [];
  laptop.on('message', (m) => messages.push(m));
  laptop.on('readState', (r) => readStates.push(r));
  const synced = nextEvent(laptop, 'synced');
  await laptop.connect();
  const { pos } = await synced;

  assert.deepEqual(messages.map((m) => [m.id, m.content, m.own]), [[first.messageId, 'one', false], [second.messageId, 'two', false]]);
  assert.equal(messages[0].fromId, alice.user.id);
  assert.deepEqual(readStates, [{ chatId: first.chatId, messageIds: [first.messageId] }]);
  assert.ok(pos > before);
  assert.equal(laptop.syncPosition, pos);
  assert.equal(laptopStorage.getItem(positionKey(suite.server.url, bob.token)), String(pos));
});

test('a device catches up on what the user sent from another device', async () => {
  const alice = await suite.people.connected('alice', { storage: memoryStorage() });
  const bob = await suite.people.connected('bob');
  const tabletStorage = memoryStorage();
  (await otherDevice(alice, tabletStorage)).close();

  const sent = await alice.send(bob.user.id, 'from my phone');
  const tablet = suite.people.client({ token: alice.token, storage: tabletStorage });
  const mirrored = nextEvent(tablet, 'message');
  const synced = nextEvent(tablet, 'synced');
  await tablet.connect();
  const message = await mirrored;
  await synced;
  assert.equal(message.id, sent.messageId);
  assert.equal(message.own, true);
  assert.equal(message.content, 'from my phone');
  assert.equal(message.toId, bob.user.id);
});

test('a connected device hears what the user read on another device', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { storage: memoryStorage() });
  const laptop = await otherDevice(bob);
  const arrived = nextEvent(laptop, 'message');
  const { messageId, chatId } = await alice.send(bob.user.id, 'read me on the phone');
  await arrived;
  const readState = nextEvent(laptop, 'readState');
  bob.markRead(alice.user, [messageId]);
  assert.deepEqual(await readState, { chatId, messageIds: [messageId] });
});

test('after a drop a device resumes from its position and reports nothing twice', async () => {
  const Socket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      Socket.latest = this;
    }
  };
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { storage: memoryStorage(), WebSocket: Socket });
  const edits = [];
  bob.on('edited', (e) => edits.push(e.content));
  const arrived = nextEvent(bob, 'message', (m) => m.content === 'before the drop');
  const { messageId } = await alice.send(bob.user.id, 'before the drop');
  await arrived;
  // Bob's own read mark is an event only his other devices hear: a gap in this device's
  // stream, which the edit after it lies above.
  const read = nextEvent(alice, 'read');
  bob.markRead(alice.user, [messageId]);
  await read;
  const heard = nextEvent(bob, 'edited');
  await alice.edit(messageId, 'edited before the drop');
  await heard;

  const resynced = nextEvent(bob, 'state', (s) => s === 'reconnecting').then(() => nextEvent(bob, 'synced'));
  Socket.latest.close();
  const { pos } = await resynced;
  assert.deepEqual(edits, ['edited before the drop']);
  assert.equal(bob.syncPosition, pos);
});

test('an expired position is an event; the device then gets the pending messages and a fresh position', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  bob.close();
  const pending = await alice.send(bob.user.id, 'while you were away');

  const key = positionKey(suite.server.url, bob.token);
  const storage = memoryStorage({ [key]: '999999999' });
  const device = suite.people.client({ token: bob.token, storage });
  const expired = nextEvent(device, 'syncExpired');
  const message = nextEvent(device, 'message');
  const synced = nextEvent(device, 'synced');
  const errors = [];
  device.on('error', (e) => errors.push(e));
  await device.connect();

  assert.equal((await expired).code, 'sync_expired');
  assert.equal((await message).id, pending.messageId);
  const { pos } = await synced;
  assert.ok(pos > 0 && pos < 999999999);
  assert.equal(device.syncPosition, pos);
  assert.equal(storage.getItem(key), String(pos));
  assert.deepEqual(errors, [], 'an expired position is no error');
});
