// The web client's people model (web/js/people-store.js) and typing sender (web/js/typing.js) on
// their own, without a browser: presence from previews and events, typing shown until false, a
// message or a dropped connection, blocks; the composer's typing:true once, then false on an
// emptied composer, a pause or a send; and a deleted account's name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PeopleStore, toMs } from "../../web/js/people-store.js";
import { TypingSender } from "../../web/js/typing.js";
import { ChatStore } from "../../web/js/chat-store.js";
import { displayName, handle, isDeleted } from "../../web/js/format.js";

const bob = { id: 2, username: "bob", name: "Bob" };
const carol = { id: 3, username: "carol", name: "Carol" };

test("presence comes from the previews and then from events; only a change asks for a redraw", () => {
  const people = new PeopleStore();
  people.applyPreviews([
    { user: bob, online: true, lastSeen: new Date(5000) },
    { user: carol, online: false, lastSeen: null },
    { user: { id: 4, username: "old", name: "Old" } },  // a server without presence: nothing known
  ]);
  assert.deepEqual(people.presenceOf(bob.id), { online: true, lastSeen: 5000 });
  assert.deepEqual(people.presenceOf(carol.id), { online: false, lastSeen: null });
  assert.equal(people.presenceOf(4), null);
  assert.equal(people.applyPresence(bob.id, { online: true, lastSeen: new Date(5000) }), false, "the same again changes nothing");
  assert.equal(people.applyPresence(bob.id, { online: false, lastSeen: new Date(9000) }), true);
  assert.deepEqual(people.presenceOf(bob.id), { online: false, lastSeen: 9000 });
  assert.equal(toMs(undefined), null);
  assert.equal(toMs(1234), 1234);
});

test("typing shows until typing:false, a message from that person, or a dropped connection", () => {
  const people = new PeopleStore();
  assert.equal(people.setTyping(bob.id, true), true);
  assert.equal(people.setTyping(bob.id, true), false, "a refresh changes nothing on screen");
  assert.ok(people.isTyping(bob.id));
  assert.equal(people.setTyping(bob.id, false), true);
  assert.equal(people.setTyping(bob.id, false), false);

  people.setTyping(bob.id, true);
  assert.equal(people.messageFrom(carol.id), false, "someone else's message leaves Bob typing");
  assert.equal(people.messageFrom(bob.id), true);
  assert.ok(!people.isTyping(bob.id));

  people.setTyping(bob.id, true);
  people.setTyping(carol.id, true);
  assert.equal(people.clearTyping(), true);
  assert.ok(!people.isTyping(bob.id) && !people.isTyping(carol.id));
  assert.equal(people.clearTyping(), false);
});

test("blocks: the list as the server has it, the newest first, and a block ends their typing", () => {
  const people = new PeopleStore();
  people.setBlocks([{ ...carol, blockedAt: 2 }]);
  people.setTyping(bob.id, true);
  people.block({ ...bob, blockedAt: 3 });
  assert.deepEqual(people.blockedList().map((u) => u.username), ["bob", "carol"]);
  assert.ok(people.isBlocked(bob.id));
  assert.ok(!people.isTyping(bob.id));
  assert.equal(people.unblock(bob.id), true);
  assert.equal(people.unblock(bob.id), false);
  assert.deepEqual(people.blockedList().map((u) => u.username), ["carol"]);
});

test("the composer says typing:true once, and false when emptied, after a pause, or for another chat", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const calls = [];
  const sender = new TypingSender((to, typing) => calls.push([to, typing]), 30);
  sender.input("bob", true);
  sender.input("bob", true);
  sender.input("bob", true);
  assert.deepEqual(calls, [["bob", true]], "the SDK repeats it; the app says it once");
  sender.input("bob", false);
  assert.deepEqual(calls.at(-1), ["bob", false]);

  sender.input("bob", true);
  sender.input("carol", true);
  assert.deepEqual(calls.slice(-2), [["bob", false], ["carol", true]]);
  sender.stop();
  sender.stop();
  assert.deepEqual(calls.at(-1), ["carol", false]);
  const before = calls.length;

  sender.input("bob", true);
  t.mock.timers.tick(20);
  sender.input("bob", true);  // a key within the pause starts it over
  t.mock.timers.tick(20);
  assert.deepEqual(calls.slice(before), [["bob", true]]);
  t.mock.timers.tick(10);
  assert.deepEqual(calls.slice(before), [["bob", true], ["bob", false]]);

  // A send: the SDK stops on its own, so no frame; the next key starts again.
  sender.input("bob", true);
  sender.sent();
  sender.stop();
  sender.input("bob", true);
  assert.deepEqual(calls.slice(before + 2), [["bob", true], ["bob", true]]);
  sender.stop();
});

test("a deleted account: named so, without a username, also in a chat known from before", () => {
  const deleted = { id: 2, username: "", name: "Deleted account", deleted: true };
  assert.ok(isDeleted(deleted));
  assert.equal(displayName(deleted), "Deleted account");
  assert.equal(handle(deleted), "");
  assert.equal(handle(bob), "@bob");
  assert.ok(!isDeleted(bob));

  const store = new ChatStore({ id: 1, username: "alice", name: "Alice" });
  store.applyPreviews([{ user: bob, unread: 0 }]);
  store.applyPreviews([{ user: deleted, unread: 0 }]);
  assert.equal(displayName(store.chats.get(2).user), "Deleted account");
  store.addMessage({ id: 9, fromId: 1, toId: 2, to: "", content: "hi", createdAt: 1, own: true }, true);
  assert.ok(isDeleted(store.chats.get(2).user), "a partial row (an id) does not bring the old name back");
});
