// Typing, presence, blocking, the account and push devices against the real server: what one
// person's client does reaches the other's as the events and answers the SDK promises.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextEvent, serverPerFile } from './support/clients.js';

// A short grace, so that going offline is heard within the test.
const suite = serverPerFile({ PRESENCE_GRACE: '1s' });

/** Alice and Bob, connected, with a conversation (so that each watches the other's presence). */
async function aliceAndBob() {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const arrived = nextEvent(bob, 'message');
  await alice.send(bob.user.id, 'hello');
  await arrived;
  return { alice, bob };
}

test('typing reaches the other person, and their message ends it', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const started = nextEvent(bob, 'typing', (e) => e.typing);
  alice.setTyping(bob.user.username, true);
  const typing = await started;
  assert.equal(typing.fromId, alice.user.id);
  assert.equal(typing.from, alice.user.username);
  assert.ok(Number.isInteger(typing.chatId));

  const stopped = nextEvent(bob, 'typing', (e) => !e.typing);
  alice.setTyping(bob.user, false);
  assert.deepEqual(await stopped, { ...typing, typing: false });

  alice.setTyping(bob.user.id, true);
  await nextEvent(bob, 'typing', (e) => e.typing);
  const endedByMessage = nextEvent(bob, 'typing', (e) => !e.typing);
  const message = nextEvent(bob, 'message');
  await alice.send(bob.user.id, 'done typing');
  assert.equal((await endedByMessage).fromId, alice.user.id);
  assert.equal((await message).content, 'done typing');
});

test('presence: previews carry it, and going offline is an event with last seen', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const rows = await alice.previews();
  assert.equal(rows[0].user.id, bob.user.id);
  assert.equal(rows[0].online, true);
  assert.deepEqual(alice.presenceOf(bob.user.id).online, true);

  const offline = nextEvent(alice, 'presence', (p) => p.userId === bob.user.id && !p.online);
  bob.close();
  const heard = await offline;
  assert.equal(heard.username, bob.user.username);
  assert.ok(heard.lastSeen instanceof Date && Math.abs(heard.lastSeen - Date.now()) < 60_000);
  assert.deepEqual(alice.presenceOf(bob.user.id), { online: false, lastSeen: heard.lastSeen });
});

test('hiding presence: the other side sees offline without last seen', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const hidden = nextEvent(alice, 'presence', (p) => p.userId === bob.user.id && !p.online);
  const profile = await bob.updateMe({ showPresence: false });
  assert.equal(profile.showPresence, false);
  assert.equal((await hidden).lastSeen, null);
  assert.equal((await bob.me()).showPresence, false);
  const [row] = await alice.previews();
  assert.deepEqual([row.online, row.lastSeen], [false, null]);
});

test('block: the blocked user\'s sends are delivered to nobody; unblock and the list', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const blocked = await bob.block(alice.user.username);
  assert.equal(blocked.id, alice.user.id);
  assert.ok(Math.abs(blocked.blockedAt - Date.now()) < 60_000);
  assert.deepEqual((await bob.blocks()).map((b) => b.id), [alice.user.id]);

  let leaked = null;
  bob.on('message', (m) => { if (!m.own) leaked = m; });
  const withheld = await alice.send(bob.user.id, 'you will not see this');
  assert.ok(withheld.messageId > 0, 'the sender is not told');
  const refused = await bob.send(alice.user.id, 'to someone I blocked').catch((e) => e);
  assert.equal(refused.code, 'blocked');
  assert.ok(!(await bob.history(alice.user)).some((m) => m.id === withheld.messageId));

  await bob.unblock(alice.user.username);
  assert.deepEqual(await bob.blocks(), []);
  assert.equal((await bob.unblock(alice.user.username).catch((e) => e)).code, 'not_found');
  assert.equal((await bob.block('no_such_user_here').catch((e) => e)).code, 'not_found');
  assert.equal(leaked, null);
});

test('rename reaches the partner\'s previews; export holds the conversation', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const renamed = await alice.updateMe({ name: 'Alice Renamed' });
  assert.equal(renamed.name, 'Alice Renamed');
  assert.equal(alice.user.name, 'Alice Renamed');
  const [row] = await bob.previews();
  assert.equal(row.user.name, 'Alice Renamed');

  const document = await alice.exportAccount();
  assert.equal(document.format, 'chatrix-export/1');
  assert.equal(document.account.username, alice.user.username);
  assert.equal(document.conversations.length, 1);
  assert.deepEqual(document.conversations[0].messages.map((m) => m.content), ['hello']);
});

test('push devices: register, list, unregister', { timeout: 15_000 }, async () => {
  const alice = await suite.people.connected('alice');
  const device = await alice.registerPushDevice('fcm', 'token-of-alices-phone');
  assert.equal(device.platform, 'fcm');
  assert.ok(device.createdAt > 0);
  assert.deepEqual((await alice.pushDevices()).map((d) => d.token), ['token-of-alices-phone']);
  await alice.unregisterPushDevice('fcm', 'token-of-alices-phone');
  assert.deepEqual(await alice.pushDevices(), []);
  assert.equal((await alice.registerPushDevice('FCM!', 't').catch((e) => e)).code, 'invalid_field');
});

test('deleteAccount: a wrong password changes nothing; the right one signs out, and partners see a deleted account', { timeout: 15_000 }, async () => {
  const { alice, bob } = await aliceAndBob();
  const password = 'correct horse battery';
  const { username } = alice.user;
  assert.equal((await alice.deleteAccount('not the password').catch((e) => e)).code, 'bad_credentials');
  assert.equal(alice.state, 'open');

  const signedOut = nextEvent(alice, 'signedOut');
  await alice.deleteAccount(password);
  assert.ok(['account_deleted', 'unauthorized'].includes((await signedOut).code));
  assert.equal(alice.token, null);

  const [row] = await bob.previews();
  assert.deepEqual(row.user, { id: row.user.id, username: '', name: 'Deleted account', deleted: true });
  const [message] = await bob.history(row.user);
  assert.equal(message.deleted, true);
  assert.equal(message.content, '');
  const again = suite.people.client();
  assert.equal((await again.login(username, password).catch((e) => e)).code, 'bad_credentials');
});
