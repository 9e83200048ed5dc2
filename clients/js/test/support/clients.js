// Helpers for the SDK's tests: people with fresh accounts, and awaiting an event.

import { ChatrixClient } from '../../src/index.js';

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
