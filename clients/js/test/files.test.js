// Files: an upload answers {id, name, type, size}; a message may carry it (with no text); the
// recipient downloads it with its name and type; anyone else is told it does not exist.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextEvent, serverPerFile } from './support/clients.js';

const suite = serverPerFile();

test('upload, send as an attachment, and the recipient downloads it', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const bytes = new TextEncoder().encode('minutes of the meeting\n');

  const file = await alice.uploadFile(bytes, { name: 'notes.txt', type: 'text/plain' });
  assert.equal(typeof file.id, 'string');
  assert.deepEqual({ ...file, id: undefined }, { id: undefined, name: 'notes.txt', type: 'text/plain', size: bytes.length });

  const arrived = nextEvent(bob, 'message');
  const sent = await alice.send(bob.user.id, '', { attachment: file.id });
  const message = await arrived;
  assert.equal(message.id, sent.messageId);
  assert.equal(message.content, '');
  assert.deepEqual(message.attachment, file);
  assert.deepEqual((await bob.history(alice.user)).at(-1).attachment, file);

  const downloaded = await bob.downloadFile(file.id);
  assert.equal(downloaded.name, 'notes.txt');
  assert.match(downloaded.type, /^text\/plain/);
  assert.deepEqual(new Uint8Array(await downloaded.arrayBuffer()), bytes);
  assert.equal(bob.fileUrl(file.id), `${suite.server.url}/v1/files/${file.id}`);
});

test('a Blob keeps its type, and a name that is not ASCII comes back whole', async () => {
  const alice = await suite.people.connected('alice');
  const blob = new Blob([new Uint8Array([0, 1, 2, 250, 251, 252])], { type: 'application/x-demo' });
  const file = await alice.uploadFile(blob, { name: 'résumé 2026 (ü).bin' });
  assert.equal(file.type, 'application/x-demo');
  assert.equal(file.size, 6);
  const downloaded = await alice.downloadFile(file.id);
  assert.equal(downloaded.name, 'résumé 2026 (ü).bin');
  assert.deepEqual([...new Uint8Array(await downloaded.arrayBuffer())], [0, 1, 2, 250, 251, 252]);
});

test('nobody outside the conversation can download the file, nor send it as theirs', async () => {
  const alice = await suite.people.connected('alice');
  const bob = await suite.people.connected('bob');
  const carol = await suite.people.connected('carol');
  const file = await alice.uploadFile(new Uint8Array([1, 2, 3]), { name: 'private.bin' });
  await alice.send(bob.user.id, 'for bob only', { attachment: file });

  const refused = await carol.downloadFile(file.id).catch((e) => e);
  assert.equal(refused.code, 'not_found');
  assert.equal(refused.status, 404);
  const notHers = await carol.send(alice.user.id, 'look', { attachment: file.id }).catch((e) => e);
  assert.equal(notHers.code, 'invalid_field');
  assert.equal((await alice.uploadFile(new Uint8Array([1])).catch((e) => e)).code, 'invalid_field', 'a name is needed');
});
