// The web client's model (web/js/chat-store.js) on its own, without a browser: statuses only move
// forward, unread counts are neither lost nor counted twice across previews, live messages and
// history, and a conversation never shows a gap; edits, deletes, replies and files land on the
// right messages, another device's reads clear unread counts, and the chat list pages on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONNECT_PREVIEWS, ChatStore, EDIT_WINDOW_MS, canEdit, lastEditable, previewText } from "../../web/js/chat-store.js";

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

test("an edit changes the text in place and in the chat list; a delete leaves 'message deleted'", () => {
  const store = new ChatStore(me);
  store.applyPreviews([{ user: bob, chatId: 9, lastMessage: { id: 2, fromId: bob.id, content: "typo", createdAt: 2000 }, unread: 0 }]);
  const chat = store.chats.get(bob.id);
  store.mergeHistory(chat, [fromBob(1), fromBob(2, "typo")], { latest: true, limit: LIMIT });

  assert.equal(store.applyEdit({ messageId: 2, chatId: 9, content: "fixed", editedAt: 5000 }), chat);
  assert.equal(chat.byId.get(2).content, "fixed");
  assert.equal(chat.byId.get(2).editedAt, 5000);
  assert.equal(previewText(chat.lastMessage), "fixed");

  store.applyDelete({ messageIds: [1, 2], chatId: 9, deletedAt: 6000 });
  assert.equal(chat.messages.length, 2, "deleted messages keep their place");
  assert.ok(chat.messages.every((m) => m.deleted && m.content === ""));
  assert.equal(previewText(chat.lastMessage), "Message deleted");

  store.applyEdit({ messageId: 2, chatId: 9, content: "too late", editedAt: 7000 });
  assert.equal(chat.byId.get(2).content, "", "a deleted message stays deleted");
  assert.equal(store.applyEdit({ messageId: 99, chatId: 77, content: "x", editedAt: 1 }), null, "an unknown chat");
});

test("an edit of yours shows at once and goes back if the server refuses it", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  store.mergeHistory(chat, [mine(4, "read")], { latest: true, limit: LIMIT });
  const message = chat.byId.get(4);
  store.startEdit(message, "better");
  assert.equal(message.content, "better");
  store.mergeHistory(chat, [mine(4, "read")], { latest: true, limit: LIMIT });
  assert.equal(message.content, "better", "a history page from before the edit does not undo it");
  store.revertEdit(message);
  assert.equal(message.content, "mine 4");
  assert.equal(message.editedAt, undefined);

  store.startEdit(message, "again");
  store.applyEdit({ messageId: 4, chatId: 3, content: "again", editedAt: 9000 });
  store.revertEdit(message);  // a late refusal of an edit the server already confirmed changes nothing
  assert.equal(message.content, "again");
});

test("history brings edits and deletes missed while away into loaded messages", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  store.mergeHistory(chat, [fromBob(1), fromBob(2)], { latest: true, limit: LIMIT });
  store.mergeHistory(chat, [{ ...fromBob(1), content: "new words", editedAt: 3000 }, { ...fromBob(2), content: "", deleted: true }],
    { latest: true, limit: LIMIT });
  assert.equal(chat.byId.get(1).content, "new words");
  assert.equal(chat.byId.get(1).editedAt, 3000);
  assert.equal(chat.byId.get(2).deleted, true);

  store.applyEdit({ messageId: 1, chatId: 3, content: "newest words", editedAt: 4000 });
  store.mergeHistory(chat, [{ ...fromBob(1), content: "new words", editedAt: 3000 }], { latest: true, limit: LIMIT });
  assert.equal(chat.byId.get(1).content, "newest words", "a page answered before the live edit does not undo it");
});

test("only your own stored, undeleted messages inside the edit window can be edited", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  const now = 10 * EDIT_WINDOW_MS;
  store.mergeHistory(chat, [
    { ...mine(1), createdAt: now - EDIT_WINDOW_MS - 1 },
    { ...mine(2), createdAt: now - 1000 },
    { ...fromBob(3), createdAt: now - 500 },
  ], { latest: true, limit: LIMIT });
  store.addSending(bob, "not stored yet", "m5");
  assert.equal(lastEditable(chat, now).id, 2);
  assert.equal(canEdit(chat.byId.get(1), now), false, "past the window");
  store.applyDelete({ messageIds: [2], chatId: 4, deletedAt: now });
  assert.equal(lastEditable(chat, now), null);
});

test("replies and files are kept on messages; a file is shown while it uploads", () => {
  const store = new ChatStore(me);
  const chat = store.chatWith(bob);
  store.mergeHistory(chat, [fromBob(1)], { latest: true, limit: LIMIT });
  const file = { name: "notes.txt", type: "text/plain", size: 12 };
  const { message } = store.addSending(bob, "", "m2", { replyTo: 1, file });
  assert.equal(message.replyTo, 1);
  assert.deepEqual(message.attachment, file);
  assert.equal(previewText(chat.lastMessage), "File: notes.txt");
  store.markUploaded(message, { id: "f1", ...file });
  assert.equal(message.file, undefined);
  store.markStored(chat, message, { messageId: 2, mark: "m2" });
  assert.equal(chat.lastMessage.id, 2);

  const attachment = { id: "f2", name: "a.png", type: "image/png", size: 3 };
  store.addMessage({ ...fromBob(3, ""), replyTo: 2, attachment, own: false }, false);
  assert.deepEqual(chat.byId.get(3).attachment, attachment);
  assert.equal(chat.byId.get(3).replyTo, 2);
  store.applyDelete({ messageIds: [3], chatId: 5, deletedAt: 1 });
  assert.equal(chat.byId.get(3).attachment, undefined, "a deleted message has no file");
});

test("what another device of yours read clears the unread count live", () => {
  const store = new ChatStore(me);
  store.applyPreviews([{ user: bob, chatId: 9, lastMessage: { id: 3, fromId: bob.id, content: "3", createdAt: 3000 }, unread: 2 }]);
  const chat = store.chats.get(bob.id);
  store.addMessage({ ...fromBob(4), chatId: 9, own: false }, false);
  store.addMessage({ ...fromBob(5), chatId: 9, own: false }, false);
  assert.equal(chat.unread, 4);
  store.applyReadState({ chatId: 9, messageIds: [2, 3, 4] });
  assert.equal(chat.unread, 1, "message 5 came after what the other device showed");
  store.applyReadState({ chatId: 9, messageIds: [5] });
  assert.equal(chat.unread, 0);
});

test("read state caught up after the previews is already in their counts", () => {
  const store = new ChatStore(me);
  store.applyPreviews([{ user: bob, chatId: 9, lastMessage: { id: 3, fromId: bob.id, content: "3", createdAt: 3000 }, unread: 1 }]);
  const chat = store.chats.get(bob.id);
  store.addMessage({ ...fromBob(1), chatId: 9, own: false }, false);  // caught-up messages, already in the previews
  store.addMessage({ ...fromBob(2), chatId: 9, own: false }, false);
  store.applyReadState({ chatId: 9, messageIds: [1, 2] }, { catchingUp: true });
  assert.equal(chat.unread, 1, "message 3 is still unread");
  store.applyReadState({ chatId: 9, messageIds: [3] });
  assert.equal(chat.unread, 0);
});

test("the chat list pages on past the connect page with the last row's cursor", () => {
  const store = new ChatStore(me);
  const rows = (from, count) => Array.from({ length: count }, (_, i) => ({
    user: { id: from + i, username: `u${from + i}`, name: `U ${from + i}` },
    chatId: from + i,
    lastMessage: { id: 1000 - from - i, fromId: from + i, content: "hi", createdAt: (1000 - from - i) * 1000 },
    unread: 0,
    cursor: `c${from + i}`,
  }));
  store.applyPreviews(rows(10, CONNECT_PREVIEWS));
  assert.equal(store.morePreviews, true);
  assert.equal(store.previewsCursor, `c${10 + CONNECT_PREVIEWS - 1}`);
  store.applyPreviews(rows(10 + CONNECT_PREVIEWS, 3), { page: true, limit: 50 });
  assert.equal(store.morePreviews, false, "a short page is the last");
  assert.equal(store.sortedChats().length, CONNECT_PREVIEWS + 3);
  assert.equal(store.sortedChats().at(-1).user.username, `u${10 + CONNECT_PREVIEWS + 2}`, "older conversations below");

  const small = new ChatStore(me);
  small.applyPreviews(rows(1, 3));
  assert.equal(small.morePreviews, false);
});
