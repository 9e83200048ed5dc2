// Typing and presence without a server (support/fake-server.js): the 4 s refresh of setTyping
// and the three things that stop it, the typing and presence events and their shapes, what a
// message or a drop does to an indicator shown, and presenceOf() from previews and events.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { ChatrixClient, EventType } from '../src/index.js';
import { FakeServer, settle } from './support/fake-server.js';

beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout'] }));
afterEach(() => mock.timers.reset());

async function connected(server) {
  const client = new ChatrixClient({ url: 'http://chat.test', token: 't', storage: null, WebSocket: server.WebSocket, fetch: server.fetch });
  const opened = client.connect();
  await settle();
  await opened;
  await settle();
  return client;
}

test('setTyping(true) is sent at once and every 4 s until setTyping(false)', async () => {
  const server = new FakeServer();
  const client = await connected(server);
  client.setTyping('bob', true);
  assert.deepEqual(server.bodiesOf(EventType.TYPING), [{ to: 'bob', typing: true }]);
  mock.timers.tick(3999);
  assert.equal(server.bodiesOf(EventType.TYPING).length, 1);
  mock.timers.tick(1);
  mock.timers.tick(4000);
  assert.equal(server.bodiesOf(EventType.TYPING).length, 3);

  client.setTyping('BOB', false);
  mock.timers.tick(20_000);
  assert.deepEqual(server.bodiesOf(EventType.TYPING).slice(3), [{ to: 'BOB', typing: false }]);
  client.close();
});

test('a send to the person typed to stops the refresh, by username or id; others go on', async () => {
  const server = new FakeServer();
  const client = await connected(server);
  client.setTyping({ id: 2, username: 'bob' }, true);
  client.setTyping(3, true);
  client.send('Bob', 'hello').catch(() => {});
  mock.timers.tick(4000);
  assert.deepEqual(server.bodiesOf(EventType.TYPING), [
    { to: 'bob', to_id: 2, typing: true },
    { to_id: 3, typing: true },
    { to_id: 3, typing: true },
  ]);
  client.send(3, 'hi carol').catch(() => {});
  mock.timers.tick(8000);
  assert.equal(server.bodiesOf(EventType.TYPING).length, 3);
  client.close();
});

test('a drop stops the refresh, also once reconnected; setTyping while disconnected sends nothing', async () => {
  const server = new FakeServer();
  const client = await connected(server);
  client.setTyping('bob', true);
  server.drop();
  await settle();
  assert.equal(client.state, 'reconnecting');
  client.setTyping('bob', true);
  mock.timers.tick(1000);  // past the first reconnect delay (at most 500 ms)
  await settle();
  assert.equal(client.state, 'open');
  mock.timers.tick(12_000);
  assert.deepEqual(server.bodiesOf(EventType.TYPING), [{ to: 'bob', typing: true }]);
  assert.throws(() => client.setTyping('bob', 'yes'), { code: 'invalid_field' });
  client.close();
});

test('a refused typing frame stops the refresh, except rate_limited', async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const errors = [];
  client.on('error', (e) => errors.push(e.code));
  client.setTyping('bob', true);
  server.push(EventType.ERR, { error: 'slow down', code: 'rate_limited', ref_type: 17, retry_after_ms: 100 });
  await settle();
  mock.timers.tick(4000);
  assert.equal(server.bodiesOf(EventType.TYPING).length, 2);
  server.push(EventType.ERR, { error: 'you blocked them', code: 'blocked', ref_type: 17 });
  await settle();
  mock.timers.tick(8000);
  assert.equal(server.bodiesOf(EventType.TYPING).length, 2);
  assert.deepEqual(errors, ['rate_limited', 'blocked']);
  client.close();
});

test('typing events; a message from the typist or a drop ends the indicator', async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const events = [];
  client.on('typing', (e) => events.push(e));
  server.push(EventType.TYPING, { from_id: 2, from: 'bob', chat_id: null, typing: true });
  server.push(EventType.TYPING, { from_id: 3, from: 'cy', chat_id: 7, typing: true });
  await settle();
  assert.deepEqual(events, [
    { fromId: 2, from: 'bob', chatId: null, typing: true },
    { fromId: 3, from: 'cy', chatId: 7, typing: true },
  ]);
  server.push(EventType.TEXT, { msg_id: 10, chat_id: 5, from_id: 2, from: 'bob', to_id: 1, to: 'ann', content: 'hi', timestamp: 1 });
  await settle();
  assert.deepEqual(events[2], { fromId: 2, from: 'bob', chatId: 5, typing: false });
  server.drop();
  await settle();
  assert.deepEqual(events.slice(3), [{ fromId: 3, from: 'cy', chatId: 7, typing: false }]);
  assert.equal(events.length, 4);
  client.close();
});

test('presence from previews rows and presence events; presenceOf answers the latest', async () => {
  const previews = [
    { id: 2, username: 'bob', name: 'Bob', unread: 0, chat_id: 5, online: true, last_seen: 1765100000 },
    { id: 3, username: 'cy', name: 'Cy', unread: 1, chat_id: 6, online: false, last_seen: null },
    { id: 4, username: '', name: 'Deleted account', deleted: true, unread: 0, chat_id: 8, online: false, last_seen: null },
  ];
  const server = new FakeServer({ previews });
  const client = await connected(server);
  const [bob, cy, gone] = client.latestPreviews;
  assert.equal(bob.online, true);
  assert.deepEqual(bob.lastSeen, new Date(1765100000 * 1000));
  assert.deepEqual([cy.online, cy.lastSeen], [false, null]);
  assert.deepEqual(gone.user, { id: 4, username: '', name: 'Deleted account', deleted: true });
  assert.deepEqual(client.presenceOf(2), { online: true, lastSeen: new Date(1765100000 * 1000) });
  assert.equal(client.presenceOf(99), undefined);

  const heard = [];
  client.on('presence', (p) => heard.push(p));
  server.push(EventType.PRESENCE, { user_id: 2, username: 'bob', online: false, last_seen: 1765100100 });
  await settle();
  assert.deepEqual(heard, [{ userId: 2, username: 'bob', online: false, lastSeen: new Date(1765100100 * 1000) }]);
  assert.deepEqual(client.presenceOf(2), { online: false, lastSeen: new Date(1765100100 * 1000) });
  client.close();
  assert.equal(client.presenceOf(2), undefined, 'a closed session forgets it (the next may be another account\'s)');
});
