// Drops and restarts: sends and requests made while disconnected go out after the reconnect,
// a send whose DELIVERED was lost is resent with its mark and stored once, and a revoked or
// refused token ends the session for good (signedOut, no reconnect).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverPerFile, nextEvent, uniqueName } from './support/clients.js';

const suite = serverPerFile();

/** A WebSocket that closes itself instead of passing on the first DELIVERED it gets. */
function socketLosingFirstDelivered() {
  let lost = false;
  return class extends WebSocket {
    addEventListener(type, listener, options) {
      if (type !== 'message') return super.addEventListener(type, listener, options);
      return super.addEventListener('message', (event) => {
        if (!lost && JSON.parse(event.data).type === 1) {
          lost = true;
          this.close();
          return;
        }
        listener(event);
      }, options);
    }
  };
}

/** A WebSocket that closes itself instead of sending the first ACK. */
function socketLosingFirstAck() {
  let lost = false;
  return class extends WebSocket {
    send(data) {
      if (!lost && JSON.parse(data).type === 11) {
        lost = true;
        this.close();
        return;
      }
      super.send(data);
    }
  };
}

async function contentsOf(client, other) {
  return (await client.history(other)).map((m) => m.content);
}

test('a send and a search made while the server is down complete after it restarts', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const reconnecting = nextEvent(alice, 'state', (s) => s === 'reconnecting');
  await suite.server.stop();
  await reconnecting;

  const sending = alice.send(bob.user.id, 'sent while the server was down');
  const searching = alice.search(bob.user.username);
  const profileAgain = nextEvent(alice, 'profile');
  const bobGetsIt = nextEvent(bob, 'message');
  await suite.server.start();

  assert.deepEqual(await profileAgain, alice.user);
  const delivered = await sending;
  assert.equal(delivered.mark, sending.mark);
  assert.equal(delivered.duplicate, false);
  assert.equal((await searching)[0].id, bob.user.id, 'the exact username ranks first');
  assert.equal((await bobGetsIt).id, delivered.messageId);
  assert.equal(alice.state, 'open');
  assert.deepEqual(await contentsOf(alice, bob.user), ['sent while the server was down']);
});

test('a send whose DELIVERED was lost with the socket is resent with its mark and stored once', async () => {
  const alice = await suite.people.connected('alice', { WebSocket: socketLosingFirstDelivered() });
  const bob = await suite.people.connected('bob');
  const reconnected = nextEvent(alice, 'state', (s) => s === 'reconnecting')
    .then(() => nextEvent(alice, 'state', (s) => s === 'open'));
  const sending = alice.send(bob.user.id, 'only once please');
  const delivered = await sending;
  await reconnected;
  assert.equal(delivered.duplicate, true, 'the server recognised the resent mark');
  assert.equal(delivered.mark, sending.mark);
  const history = await alice.history(bob.user);
  assert.deepEqual(history.map((m) => m.id), [delivered.messageId]);
});

test('a message whose ACK was lost is confirmed again after the reconnect, and reported once', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { WebSocket: socketLosingFirstAck() });
  const messages = [];
  bob.on('message', (m) => messages.push(m.id));
  const reconnected = nextEvent(bob, 'state', (s) => s === 'reconnecting')
    .then(() => nextEvent(bob, 'state', (s) => s === 'open'));
  const { messageId } = await alice.send(bob.user.id, 'did you get it?');
  const received = nextEvent(alice, 'received', (r) => r.messageIds.includes(messageId));
  await reconnected;
  // RECEIVED answers the ACK Bob repeats on the new connection (resuming from his position,
  // he is not sent the message again).
  await received;
  assert.deepEqual(messages, [messageId]);
});

test('read marks made while disconnected are sent after the reconnect', async () => {
  const Socket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      Socket.latest = this;
    }
  };
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob', { WebSocket: Socket });
  const arrived = nextEvent(bob, 'message');
  const { messageId } = await alice.send(bob.user.id, 'read me later');
  await arrived;
  // Only Bob drops; Alice stays connected to hear the read notice.
  const reconnecting = nextEvent(bob, 'state', (s) => s === 'reconnecting');
  Socket.latest.close();
  await reconnecting;
  assert.equal(bob.state, 'reconnecting');
  const read = nextEvent(alice, 'read');
  bob.markRead(alice.user.username, [messageId]);
  assert.deepEqual((await read).messageIds, [messageId]);
});

test('sends wait for connect(), within the cap; close() refuses what is still waiting', async () => {
  const registered = suite.people.client();
  await registered.register(uniqueName('alice'), 'correct horse battery');
  const bob = await suite.people.connected('bob');

  const alice = suite.people.client({ token: registered.token, maxPendingSends: 2 });
  const first = alice.send(bob.user.id, 'first');
  const second = alice.send(bob.user.id, 'second');
  const overflow = await alice.send(bob.user.id, 'third').catch((e) => e);
  assert.equal(overflow.code, 'queue_full');
  const reused = await alice.send(bob.user.id, 'same mark', { mark: first.mark }).catch((e) => e);
  assert.equal(reused.code, 'mark_in_use');

  await alice.connect();
  const [d1, d2] = await Promise.all([first, second]);
  assert.ok(d2.messageId > d1.messageId, 'sent in order');
  assert.deepEqual(await contentsOf(alice, bob.user), ['first', 'second']);

  const stopped = suite.people.client({ token: registered.token });
  const waiting = stopped.send(bob.user.id, 'never sent');
  stopped.close();
  assert.equal((await waiting.catch((e) => e)).code, 'closed');
  assert.equal(stopped.state, 'closed');
  assert.equal((await stopped.send(bob.user.id, 'after close').catch((e) => e)).code, 'closed');
});

test('searches and history requests wait for connect(), within their cap', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  await alice.send(bob.user.id, 'before bob reconnects');

  const later = suite.people.client({ token: bob.token, maxPendingRequests: 1 });
  const history = later.history(alice.user);
  const search = later.search(alice.user.username);
  assert.equal((await later.history(alice.user).catch((e) => e)).code, 'queue_full');
  assert.equal((await later.search('x').catch((e) => e)).code, 'queue_full');
  await later.connect();
  assert.deepEqual((await history).map((m) => m.content), ['before bob reconnects']);
  assert.equal((await search)[0].id, alice.user.id, 'the exact username ranks first');
});

test('a token revoked elsewhere signs the session out for good', async () => {
  const alice = await suite.people.connected('alice');
  const states = [];
  alice.on('state', (s) => states.push(s));
  const signedOut = nextEvent(alice, 'signedOut');

  await suite.people.client({ token: alice.token }).logout();
  const error = await signedOut;
  assert.equal(error.code, 'unauthorized');
  assert.match(error.message, /revoked/);
  assert.equal(alice.state, 'closed');
  assert.equal(alice.token, null);
  assert.deepEqual(states, ['closed'], 'no reconnect is tried');
  assert.equal((await alice.search('x').catch((e) => e)).code, 'closed');
});

test('a refused token rejects connect() and signs out', async () => {
  const client = suite.people.client({ token: 'not.a.token' });
  const signedOut = nextEvent(client, 'signedOut');
  const error = await client.connect().catch((e) => e);
  assert.equal(error.code, 'unauthorized');
  assert.equal((await signedOut).code, 'unauthorized');
  assert.equal(client.state, 'closed');
  assert.equal((await client.connect().catch((e) => e)).code, 'not_signed_in');
});

test('an unreachable server is a network error event while the client keeps trying', async () => {
  const client = suite.people.client({ url: 'http://127.0.0.1:1', token: 'any' });
  const error = nextEvent(client, 'error');
  const retrying = nextEvent(client, 'state', (s) => s === 'reconnecting');
  const connecting = client.connect();
  assert.equal((await error).code, 'network');
  await retrying;
  client.close();
  assert.equal((await connecting.catch((e) => e)).code, 'closed');
});

test('coming back online retries at once, whatever the backoff', async () => {
  // Node has no window events: stand in for the browser's.
  const window = new EventTarget();
  globalThis.addEventListener = window.addEventListener.bind(window);
  globalThis.removeEventListener = window.removeEventListener.bind(window);
  try {
    const alice = await suite.people.connected('alice', { reconnectDelayMs: 600_000, maxReconnectDelayMs: 600_000 });
    const reconnecting = nextEvent(alice, 'state', (s) => s === 'reconnecting');
    await suite.server.stop();
    await reconnecting;
    await suite.server.start();
    const open = nextEvent(alice, 'state', (s) => s === 'open');
    window.dispatchEvent(new Event('online'));
    await open;
    alice.close();
  } finally {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  }
});
