// The web client's model (web/js/chat-store.js) on its own, without a browser: statuses only move
// forward, unread counts are neither lost nor counted twice across previews, live messages and
// history, and a conversation never shows a gap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatStore } from "../../web/js/chat-store.js";

const me = { id: 1, username: "alice", name: "Alice" };
const bob = { id: 2, username: "bob", name: "Bob" };
const LIMIT = 50;

function fromBob(id, content = `message ${id}`) {
  return { id, fromId: bob.id, from: "bob", fromName: "Bob", toId: me.id, to: "alice", content, createdAt: id * 1000 };
}

function mine(id, status) {
  return { id, fromId: me.id, toId: bob.id, content: `mine ${id}`, createdAt: id * 1000, status };
}

test("a message of yours goes sending, stored, delivered, read, and never back", () => {
  const store = new ChatStore(me);
  const { chat, message } = store.addSending(bob, "hi", "m1");
  assert.equal(message.status, "sending");
  store.markStored(chat, message, { messageId: 7, mark: "m1" });
  assert.equal(message.status, "stored");
  assert.deepEqual([...store.advanceOwn([7], "delivered")], [bob.id]);
  assert.equal(message.status, "delivered");
  store.advanceOwn([7], "read");
  store.advanceOwn([7], "delivered");  // a late RECEIVED
  store.markStored(chat, message, { messageId: 7, mark: "m1" });  // the promise after the event
  assert.equal(message.status, "read");
  assert.equal(store.advanceOwn([7], "read").size, 0, "nothing changed, nothing to redraw");
});

test("pending messages replayed after the previews are not counted twice", () => {
  const store = new ChatStore(me);
  store.applyPreviews([{ user: bob, lastMessage: { id: 5, fromId: bob.id, content: "5", createdAt: 5000 }, unread: 2 }]);
  store.addMessage({ ...fromBob(4), own: false }, false);
  store.addMessage({ ...fromBob(5), own: false }, false);
  assert.equal(store.chats.get(bob.id).unread, 2);
  const { isNew } = store.addMessage({ ...fromBob(6), own: false }, false);
  assert.ok(isNew);
  assert.equal(store.chats.get(bob.id).unread, 3);
  assert.equal(store.chats.get(bob.id).lastMessage.content, "message 6");
});

test("a live message from someone new starts a chat at the top of the list", () => {
  const store = new ChatStore(me);
  store.applyPreviews([{ user: { id: 3, username: "carol", name: "Carol" }, lastMessage: { id: 1, fromId: 3, content: "old", createdAt: 1000 }, unread: 0 }]);
  store.addMessage({ ...fromBob(9), own: false }, false);
  assert.deepEqual(store.sortedChats().map((c) => c.user.username), ["bob", "carol"]);
  assert.equal(store.chats.get(bob.id).user.name, "Bob");
});

test("history merges by id, keeps messages still sending, and reading takes each id once", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  chat.unread = 1;
  const { message: sending } = store.addSending(bob, "on its way", "m9");
  store.mergeHistory(chat, [fromBob(1), mine(2, "read"), fromBob(3)], { latest: true, limit: LIMIT });
  assert.deepEqual(chat.messages.map((m) => m.id ?? m.mark), [1, 2, 3, "m9"]);
  assert.equal(chat.hasEarlier, false);
  assert.equal(store.ownById.get(2).status, "read");
  assert.equal(sending.status, "sending");

  assert.deepEqual(store.takeUnreadIds(chat), [1, 3]);
  assert.equal(chat.unread, 0);
  assert.deepEqual(store.takeUnreadIds(chat), []);

  store.mergeHistory(chat, [fromBob(1), mine(2, "delivered"), fromBob(3)], { latest: true, limit: LIMIT });
  assert.equal(chat.messages.length, 4, "nothing twice");
  assert.equal(store.ownById.get(2).status, "read", "an older view does not undo read");
});

test("a newest page that does not reach the loaded messages replaces them (no gap)", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  store.mergeHistory(chat, [fromBob(1), fromBob(2)], { latest: true, limit: 2 });
  assert.equal(chat.hasEarlier, true);
  store.mergeHistory(chat, [fromBob(10), fromBob(11)], { latest: true, limit: 2 });
  assert.deepEqual(chat.messages.map((m) => m.id), [10, 11]);
  assert.equal(chat.hasEarlier, true);
  store.mergeHistory(chat, [fromBob(8), fromBob(9)], { latest: false, limit: 2 });
  assert.deepEqual(chat.messages.map((m) => m.id), [8, 9, 10, 11]);
  store.mergeHistory(chat, [fromBob(7)], { latest: false, limit: 2 });
  assert.equal(chat.hasEarlier, false, "a short page is the first one");
});

test("a conversation never opened keeps no live messages; one being opened does", () => {
  const store = new ChatStore(me);
  store.addMessage({ ...fromBob(1), own: false }, false);
  const chat = store.chats.get(bob.id);
  assert.equal(chat.messages.length, 0);
  chat.loadingLatest = true;
  store.addMessage({ ...fromBob(2), own: false }, false);
  store.mergeHistory(chat, [fromBob(1)], { latest: true, limit: LIMIT });
  assert.deepEqual(chat.messages.map((m) => m.id), [1, 2]);
});
