// The server's per-connection message limit surfaces as a rejected send with its code,
// retryAfterMs and mark; a connection closed for a flood of refusals comes back after the
// time the server asked for, and every send is settled, stored at most once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverPerFile, nextEvent } from './support/clients.js';

// A second refusal in a row closes the connection (MESSAGE_FLOOD_LIMIT).
const suite = serverPerFile({ MESSAGE_RATE: '1/s', MESSAGE_BURST: '1', MESSAGE_FLOOD_LIMIT: '1' });

test('a send over MESSAGE_RATE rejects with rate_limited and when to retry', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const first = alice.send(bob.user.id, 'within the burst');
  const second = alice.send(bob.user.id, 'over the limit');
  const refusal = second.catch((e) => e);
  assert.ok((await first).messageId > 0);
  const refused = await refusal;
  assert.equal(refused.code, 'rate_limited');
  assert.equal(refused.refType, 0);
  assert.equal(refused.mark, second.mark);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 1000, `retryAfterMs ${refused.retryAfterMs}`);
  assert.equal(alice.state, 'open');
  assert.deepEqual((await alice.history(bob.user)).map((m) => m.content), ['within the burst']);
});

test('after a close for too many refused sends, the client waits as asked and settles every send', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const closedForFlood = nextEvent(alice, 'error', (e) => e.code === 'rate_limited' && e.refType === undefined);
  const contents = ['one', 'two', 'three', 'four'];
  const outcomes = await Promise.allSettled(contents.map((content) => alice.send(bob.user.id, content)));
  const flood = await closedForFlood;
  assert.ok(flood.retryAfterMs > 0);

  const stored = contents.filter((_, i) => outcomes[i].status === 'fulfilled');
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') assert.equal(outcome.reason.code, 'rate_limited');
  }
  assert.ok(stored.includes('one'), 'the first send was within the burst');
  // The last send settles on a connection that is open by then.
  assert.equal(alice.state, 'open');
  assert.deepEqual((await alice.history(bob.user)).map((m) => m.content), stored);
});
