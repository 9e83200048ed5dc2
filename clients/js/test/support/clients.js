// Helpers for the SDK's tests: people with fresh accounts, and awaiting an event.

import { after, afterEach, before } from 'node:test';
import { ChatrixClient } from '../../src/index.js';
import { startServer } from './server.js';

// Fast reconnects keep the reconnect tests short; the backoff itself is the same code.
export const fastReconnect = { reconnectDelayMs: 20, maxReconnectDelayMs: 200 };

let people = 0;

/** A unique username for this test process ("alice" -> "alice_3"). */
export function uniqueName(base) {
  people += 1;
  return `${base}_${people}`;
}

/**
 * Clients made for one test; closeAll() ends them all (an open socket would keep the test
 * process alive).
 */
export class People {
  #clients = [];
  #server;

  constructor(server) {
    this.#server = server;
  }

  /** A client of the server with the test defaults, not signed in. */
  client(options = {}) {
    const client = new ChatrixClient({ url: this.#server.url, ...fastReconnect, ...options });
    this.#clients.push(client);
    return client;
  }

  /** A newly registered person, connected. */
  async connected(base, options = {}) {
    const client = this.client(options);
    await client.register(uniqueName(base), 'correct horse battery', `${base} display`);
    await client.connect();
    return client;
  }

  closeAll() {
    for (const client of this.#clients.splice(0)) client.close();
  }
}

/**
 * A device's storage (the Web Storage calls the client makes) in memory, so each client of a
 * test is a device of its own. `entries()` shows what was kept.
 */
export function memoryStorage(initial = {}) {
  const items = new Map(Object.entries(initial));
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
    entries: () => Object.fromEntries(items),
  };
}

/** The next `count` values of `event` of `client`. */
export function nextEvents(client, event, count) {
  const values = [];
  return new Promise((resolve) => {
    const off = client.on(event, (value) => {
      values.push(value);
      if (values.length < count) return;
      off();
      resolve(values);
    });
  });
}

/** The next `event` of `client` for which `accept` is true. */
export function nextEvent(client, event, accept = () => true) {
  return new Promise((resolve) => {
    const off = client.on(event, (value) => {
      if (!accept(value)) return;
      off();
      resolve(value);
    });
  });
}

/**
 * One server for a test file, started before its first test (with `env` added to its
 * environment) and stopped after its last, and the people on it, whose clients close after
 * each test. Read `suite.server` and `suite.people` inside the tests.
 */
export function serverPerFile(env) {
  const suite = { server: undefined, people: undefined };
  before(async () => {
    suite.server = await startServer(env);
    suite.people = new People(suite.server);
  });
  afterEach(() => suite.people?.closeAll());
  after(() => suite.server?.dispose());
  return suite;
}
