// The HTTP calls of blocking, the profile, export, account deletion and push devices without a
// server (support/fake-server.js): the method, path and body each sends, the shapes each
// resolves with, and what a deleted account does to the session.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatrixClient } from '../src/index.js';
import { FakeServer, settle } from './support/fake-server.js';

function clientOf(server) {
  return new ChatrixClient({ url: 'http://chat.test/base', token: 'tok', storage: null, WebSocket: server.WebSocket, fetch: server.fetch });
}

test('block, unblock and blocks', async () => {
  const server = new FakeServer();
  const bobRow = { id: 2, username: 'bob', name: 'Bob', blocked_at: '2026-12-07T09:00:00.250Z' };
  server.route('POST', '/base/v1/blocks', () => ({ status: 201, body: bobRow }));
  server.route('DELETE', '/base/v1/blocks/b%C3%B6b%2F1', () => ({ status: 204 }));
  server.route('GET', '/base/v1/blocks', () => ({
    status: 200,
    body: { blocks: [bobRow, { id: 9, username: '', name: 'Deleted account', deleted: true, blocked_at: '2026-12-06T09:00:00.000Z' }] },
  }));
  const client = clientOf(server);

  const blocked = await client.block('bob');
  assert.deepEqual(blocked, { id: 2, username: 'bob', name: 'Bob', blockedAt: Date.parse('2026-12-07T09:00:00.250Z') });
  assert.deepEqual(server.requests[0], { method: 'POST', path: '/base/v1/blocks', body: { username: 'bob' }, authorization: 'Bearer tok' });
  assert.equal(await client.unblock('böb/1'), undefined);
  assert.equal(server.requests[1].method, 'DELETE');
  const rows = await client.blocks();
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[1], { id: 9, username: '', name: 'Deleted account', deleted: true, blockedAt: Date.parse('2026-12-06T09:00:00.000Z') });

  const refused = await client.unblock('nobody').catch((e) => e);
  assert.equal(refused.code, 'not_found');
  assert.equal(refused.status, 404);
});

test('me, updateMe and exportAccount', async () => {
  const server = new FakeServer();
  let profile = { id: 1, username: 'ann', name: 'Ann', show_presence: true };
  server.route('GET', '/base/v1/me', () => ({ status: 200, body: profile }));
  server.route('PATCH', '/base/v1/me', ({ body }) => {
    profile = { ...profile, ...body };
    return { status: 200, body: profile };
  });
  const document = { format: 'chatrix-export/1', account: { id: 1 }, blocks: [], devices: [], conversations: [] };
  server.route('GET', '/base/v1/me/export', () => ({ status: 200, body: document }));
  const client = clientOf(server);
  await client.connect();
  await settle();

  assert.deepEqual(await client.me(), { id: 1, username: 'ann', name: 'Ann', showPresence: true });
  const renamed = await client.updateMe({ name: 'Ann B.' });
  assert.deepEqual(renamed, { id: 1, username: 'ann', name: 'Ann B.', showPresence: true });
  assert.deepEqual(server.requests.at(-1).body, { name: 'Ann B.' });
  assert.deepEqual(client.user, { id: 1, username: 'ann', name: 'Ann B.' });
  const hidden = await client.updateMe({ showPresence: false });
  assert.equal(hidden.showPresence, false);
  assert.deepEqual(server.requests.at(-1).body, { show_presence: false });
  await assert.rejects(client.updateMe({}), { code: 'invalid_field' });
  assert.deepEqual(await client.exportAccount(), document);
  client.close();
});

test('deleteAccount: a wrong password leaves the session; the right one ends it with account_deleted', async () => {
  const server = new FakeServer();
  server.route('DELETE', '/base/v1/me', ({ body }) => (body.password === 'right password'
    ? { status: 204 }
    : { status: 401, body: { error: 'invalid username or password', code: 'bad_credentials' } }));
  const client = clientOf(server);
  await client.connect();
  await settle();
  const ended = [];
  client.on('signedOut', (e) => ended.push(e.code));

  await assert.rejects(client.deleteAccount('wrong password'), { code: 'bad_credentials', status: 401 });
  assert.equal(client.state, 'open');
  assert.equal(client.token, 'tok');

  await client.deleteAccount('right password');
  assert.deepEqual(server.requests.at(-1).body, { password: 'right password' });
  assert.equal(client.state, 'closed');
  assert.equal(client.token, null);
  assert.equal(client.user, null);
  assert.deepEqual(ended, ['account_deleted']);
  await assert.rejects(client.me(), { code: 'not_signed_in' });
});

test('registerPushDevice, unregisterPushDevice and pushDevices', async () => {
  const server = new FakeServer();
  const row = { platform: 'fcm', token: 'device-token-1', created_at: '2026-12-07T09:30:00.000Z' };
  server.route('POST', '/base/v1/devices', () => ({ status: 201, body: row }));
  server.route('DELETE', '/base/v1/devices', () => ({ status: 204 }));
  server.route('GET', '/base/v1/devices', () => ({ status: 200, body: { devices: [row] } }));
  const client = clientOf(server);

  const device = { platform: 'fcm', token: 'device-token-1', createdAt: Date.parse(row.created_at) };
  assert.deepEqual(await client.registerPushDevice('fcm', 'device-token-1'), device);
  assert.deepEqual(server.requests[0].body, { platform: 'fcm', token: 'device-token-1' });
  assert.deepEqual(await client.pushDevices(), [device]);
  assert.equal(await client.unregisterPushDevice('fcm', 'device-token-1'), undefined);
  assert.deepEqual(server.requests[2], { method: 'DELETE', path: '/base/v1/devices', body: { platform: 'fcm', token: 'device-token-1' }, authorization: 'Bearer tok' });
});
