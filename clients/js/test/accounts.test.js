// register, login and logout over HTTP, and the errors they report.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatrixClient, ChatrixError } from '../src/index.js';
import { serverPerFile, uniqueName } from './support/clients.js';

const suite = serverPerFile();

test('register keeps the token and the user on the client', async () => {
  const client = suite.people.client();
  const username = uniqueName('Ada');
  const session = await client.register(username, 'correct horse battery', 'Ada L.');
  assert.equal(typeof session.token, 'string');
  assert.equal(client.token, session.token);
  assert.deepEqual(client.user, session.user);
  assert.equal(session.user.username, username);
  assert.equal(session.user.name, 'Ada L.');
  assert.ok(Number.isInteger(session.user.id) && session.user.id > 0);
});

test('login answers a new token for the same user', async () => {
  const first = suite.people.client();
  const username = uniqueName('grace');
  const registered = await first.register(username, 'correct horse battery');
  const second = suite.people.client();
  const session = await second.login(username.toUpperCase(), 'correct horse battery');
  assert.equal(session.user.id, registered.user.id);
  assert.notEqual(session.token, registered.token);
  assert.equal(second.token, session.token);
});

test('a taken username is username_taken (409)', async () => {
  const username = uniqueName('linus');
  await suite.people.client().register(username, 'correct horse battery');
  const error = await suite.people.client().register(username.toUpperCase(), 'another password').catch((e) => e);
  assert.ok(error instanceof ChatrixError);
  assert.equal(error.code, 'username_taken');
  assert.equal(error.status, 409);
});

test('a wrong password is bad_credentials (401), and nothing is kept', async () => {
  const username = uniqueName('ken');
  await suite.people.client().register(username, 'correct horse battery');
  const client = suite.people.client();
  const error = await client.login(username, 'wrong password!').catch((e) => e);
  assert.equal(error.code, 'bad_credentials');
  assert.equal(error.status, 401);
  assert.equal(client.token, null);
  const unknown = await client.login(uniqueName('nobody'), 'whatever123').catch((e) => e);
  assert.equal(unknown.code, 'bad_credentials');
});

test('a refused field is invalid_field (400) with the server\'s reason', async () => {
  const error = await suite.people.client().register('x', 'correct horse battery').catch((e) => e);
  assert.equal(error.code, 'invalid_field');
  assert.equal(error.status, 400);
  assert.ok(error.message.length > 0);
});

test('an unreachable server is a network error', async () => {
  const client = new ChatrixClient({ url: 'http://127.0.0.1:1' });
  const error = await client.login('someone', 'password123').catch((e) => e);
  assert.equal(error.code, 'network');
});

test('logout revokes the token: the next login is needed', async () => {
  const client = suite.people.client();
  const { token } = await client.register(uniqueName('dennis'), 'correct horse battery');
  let signedOut = null;
  client.on('signedOut', (error) => { signedOut = error; });
  await client.logout();
  assert.equal(client.token, null);
  assert.equal(client.user, null);
  assert.equal(signedOut?.code, 'logged_out');
  // The revoked token no longer opens a session.
  const again = suite.people.client({ token });
  const refused = await again.connect().catch((e) => e);
  assert.equal(refused.code, 'unauthorized');
  assert.equal(again.state, 'closed');
});

test('a URL is needed outside a browser', () => {
  assert.throws(() => new ChatrixClient(), (error) => error.code === 'bad_url');
});
