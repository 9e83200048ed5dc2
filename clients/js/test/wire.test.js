// The pure parts, without a server: reconnect delays, and server bodies turned into the SDK's
// shapes (including the null bodies the original protocol sends for "nothing").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconnectDelay } from '../src/backoff.js';
import { markKey } from '../src/outbox.js';
import { decodeFrame, toDeleted, toEdited, toHistory, toMessage, toPresence, toPreviews, toReadState, toTyping } from '../src/wire.js';

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

test('a preview without a last message leaves it out; seconds become milliseconds; no presence is offline', () => {
  const [preview] = toPreviews([
    { id: 2, username: 'bob', name: '', chat_id: 5, unread: 0, last_message_at: 1700000000, last_message: null },
  ]);
  assert.deepEqual(preview, {
    user: { id: 2, username: 'bob', name: 'bob' }, unread: 0, online: false, lastSeen: null, chatId: 5, lastMessageAt: 1700000000000,
  });
});

test('typing and presence bodies without their fields are malformed; last_seen null stays null', () => {
  assert.throws(() => toTyping({ from: 'bob', typing: true }), TypeError);
  assert.throws(() => toTyping({ from_id: 2, from: 'bob', typing: 'yes' }), TypeError);
  assert.deepEqual(toTyping({ from_id: 2, from: 'bob', typing: false }), { fromId: 2, from: 'bob', chatId: null, typing: false });
  assert.throws(() => toPresence({ username: 'bob', online: true }), TypeError);
  assert.deepEqual(toPresence({ user_id: 2, username: 'bob', online: false, last_seen: null }),
    { userId: 2, username: 'bob', online: false, lastSeen: null });
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

test('a frame\'s pos is read beside type and body, as a number or a string of digits', () => {
  assert.deepEqual(decodeFrame('{"type":0,"pos":1041,"body":{}}'), { type: 0, body: {}, pos: 1041 });
  assert.equal(decodeFrame('{"type":2,"pos":"7","body":[1]}').pos, 7);
  assert.equal(decodeFrame('{"type":4,"body":{}}').pos, null);
});

test('replies, files, edits and deletes on messages, history rows and previews', () => {
  const file = { id: 'f1', name: 'a.png', type: 'image/png', size: 10 };
  const message = toMessage({ msg_id: 5, content: '', timestamp: 1, reply_to: 4, attachment: file, edited_at: '2026-12-07T00:00:01.250Z' }, false);
  assert.equal(message.replyTo, 4);
  assert.deepEqual(message.attachment, file);
  assert.equal(message.editedAt, Date.UTC(2026, 11, 7, 0, 0, 1, 250));
  assert.equal(message.deleted, undefined);
  const [row] = toHistory([{ id: 6, content: '', chat_id: 1, created_at: '2026-12-07T00:00:00Z', user_id: 2, deleted: true }], { id: 1 }, { id: 2 });
  assert.equal(row.deleted, true);
  assert.equal(row.attachment, undefined);
  const [preview] = toPreviews([{ id: 2, username: 'b', chat_id: 1, cursor: 'c1', last_message: { id: 6, from_id: 2, content: '', timestamp: 1, deleted: true } }]);
  assert.equal(preview.cursor, 'c1');
  assert.equal(preview.lastMessage.deleted, true);
});

test('edit, delete and read-state bodies', () => {
  assert.deepEqual(toEdited({ message_id: 5, chat_id: 2, content: 'new', edited_at: '2026-12-07T00:00:00.000Z' }),
    { messageId: 5, chatId: 2, content: 'new', editedAt: Date.UTC(2026, 11, 7) });
  assert.deepEqual(toDeleted({ message_ids: [5, 6], chat_id: 2, deleted_at: '2026-12-07T00:00:00.000Z' }),
    { messageIds: [5, 6], chatId: 2, deletedAt: Date.UTC(2026, 11, 7) });
  assert.deepEqual(toReadState({ chat_id: 2, message_ids: [5] }), { chatId: 2, messageIds: [5] });
  assert.throws(() => toEdited({}), TypeError);
  assert.throws(() => toDeleted({ chat_id: 2 }), TypeError);
});
