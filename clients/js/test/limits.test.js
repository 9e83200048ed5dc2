// The server's per-connection message limit surfaces as a rejected send with its code,
// retryAfterMs and mark; the connection carries on.

import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { startServer } from './support/server.js';
import { People } from './support/clients.js';

let server;
let people;
before(async () => {
  server = await startServer({ MESSAGE_RATE: '1/s', MESSAGE_BURST: '1' });
  people = new People(server);
});
afterEach(() => people.closeAll());
after(() => server?.dispose());

test('a send over MESSAGE_RATE rejects with rate_limited and when to retry', async () => {
  const alice = await people.connected('alice');
  const bob = await people.connected('bob');
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
