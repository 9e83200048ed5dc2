// The pure parts, without a server: reconnect delays, and server bodies turned into the SDK's
// shapes (including the null bodies the original protocol sends for "nothing").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconnectDelay } from '../src/backoff.js';
import { markKey } from '../src/outbox.js';
import { toHistory, toMessage, toPreviews } from '../src/wire.js';

test('reconnect delays double per failure up to the cap, jittered within the upper half', () => {
  const lowest = () => 0;
  const highest = () => 0.999999;
  assert.equal(reconnectDelay(1, 500, 30_000, lowest), 250);
  assert.equal(reconnectDelay(1, 500, 30_000, highest), 500);
  assert.equal(reconnectDelay(2, 500, 30_000, lowest), 500);
  assert.equal(reconnectDelay(3, 500, 30_000, highest), 2000);
  assert.equal(reconnectDelay(50, 500, 30_000, lowest), 15_000);
  assert.equal(reconnectDelay(5000, 500, 30_000, highest), 30_000);
});

test('marks are the same when they are the same number or the same string', () => {
  assert.equal(markKey(17), markKey(17.0));
  assert.notEqual(markKey(17), markKey('17'));
  assert.equal(markKey('a-b'), markKey('a-b'));
});

test('null previews and history pages are empty lists', () => {
  assert.deepEqual(toPreviews(null), []);
  assert.deepEqual(toHistory(null, { id: 1 }, { id: 2 }), []);
});

test('a preview without a last message leaves it out; seconds become milliseconds', () => {
  const [preview] = toPreviews([
    { id: 2, username: 'bob', name: '', chat_id: 5, unread: 0, last_message_at: 1700000000, last_message: null },
  ]);
  assert.deepEqual(preview, { user: { id: 2, username: 'bob', name: 'bob' }, unread: 0, chatId: 5, lastMessageAt: 1700000000000 });
});

test('history rows of an older server (no to_id, no delivered) still get a recipient and a status', () => {
  const me = { id: 1, username: 'alice', name: 'Alice' };
  const rows = [
    { id: 10, content: 'hi', chat_id: 3, created_at: '2026-12-07T00:00:01.500Z', user_id: 1, read: false },
    { id: 11, content: 'yo', chat_id: 3, created_at: '2026-12-07T00:00:02.000Z', user_id: 2, read: true },
  ];
  const [mine, theirs] = toHistory(rows, me, { id: 2 });
  assert.equal(mine.toId, 2);
  assert.equal(mine.status, 'stored');
  assert.equal(mine.createdAt, Date.UTC(2026, 11, 7, 0, 0, 1, 500));
  assert.equal(theirs.toId, 1);
  assert.equal(theirs.status, undefined);
  assert.equal(theirs.from, undefined);
  assert.equal(theirs.to, 'alice');
});

test('a TEXT from an older server without the extensions is still a message', () => {
  const message = toMessage({ msg_id: 4, from_id: 2, from: 'bob', from_name: '', content: 'x', timestamp: 2, to: 'alice' }, false);
  assert.equal(message.fromName, 'bob');
  assert.equal(message.createdAt, 2000);
  assert.equal(message.status, undefined);
});

test('a message body without its id is refused, not half-read', () => {
  assert.throws(() => toMessage(null, false), TypeError);
  assert.throws(() => toMessage({ content: 'x' }, false), TypeError);
});
