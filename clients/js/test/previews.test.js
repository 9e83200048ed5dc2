// Previews at any time over the socket, paged by cursor; the same over HTTP
// (GET /v1/conversations), and the profile (GET /v1/me).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverPerFile } from './support/clients.js';

const suite = serverPerFile();

/** Alice with conversations with three people, the most recent last. */
async function aliceWithThreeConversations() {
  const alice = await suite.people.connected('alice');
  const others = [];
  for (const name of ['bob', 'carol', 'dave']) {
    const other = await suite.people.connected(name, { acks: false });
    await alice.send(other.user.id, `hello ${name}`);
    others.push(other);
  }
  return { alice, others };
}

test('previews() pages through the conversations, most recent first', async () => {
  const { alice, others } = await aliceWithThreeConversations();
  const newestFirst = others.map((o) => o.user.id).reverse();

  const all = await alice.previews();
  assert.deepEqual(all.map((p) => p.user.id), newestFirst);
  assert.equal(all[0].lastMessage.content, 'hello dave');

  const first = await alice.previews({ limit: 2 });
  assert.deepEqual(first.map((p) => p.user.id), newestFirst.slice(0, 2));
  assert.equal(typeof first[1].cursor, 'string');
  const rest = await alice.previews({ before: first[1].cursor, limit: 2 });
  assert.deepEqual(rest.map((p) => p.user.id), newestFirst.slice(2));
  assert.deepEqual(await alice.previews({ before: rest[0].cursor }), []);

  const refused = await alice.previews({ before: 'not a cursor' }).catch((e) => e);
  assert.equal(refused.code, 'invalid_field');
  assert.equal(refused.refType, 5);
});

test('conversations() pages the same over HTTP; me() is the profile', async () => {
  const { alice, others } = await aliceWithThreeConversations();
  const newestFirst = others.map((o) => o.user.id).reverse();

  const first = await alice.conversations({ limit: 2 });
  assert.deepEqual(first.conversations.map((p) => p.user.id), newestFirst.slice(0, 2));
  assert.equal(typeof first.next, 'string');
  const rest = await alice.conversations({ before: first.next });
  assert.deepEqual(rest.conversations.map((p) => p.user.id), newestFirst.slice(2));
  assert.equal(rest.next, null);
  assert.equal(rest.conversations[0].unread, 0);

  const [bobsView] = (await others[0].conversations()).conversations;
  assert.equal(bobsView.user.id, alice.user.id);
  assert.equal(bobsView.unread, 1);

  assert.deepEqual(await alice.me(), { ...alice.user, showPresence: true });
  const signedOut = suite.people.client();
  assert.equal((await signedOut.me().catch((e) => e)).code, 'not_signed_in');
});
