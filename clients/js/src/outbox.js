// Sends not yet acknowledged with DELIVERED, keyed by mark, in the order they were made. They
// are resent, in that order and with the same marks, on every new connection until DELIVERED
// or an ERR settles them: the server stores a resent mark once (RETRY_WINDOW).

import { ChatrixError } from './errors.js';

/** Two marks are the same when they are the same number or the same string (docs/protocol.md, Marks). */
export function markKey(mark) {
  return typeof mark === 'number' ? `n${mark}` : `s${mark}`;
}

export class Outbox {
  #entries = new Map();
  #capacity;

  /** @param {number} capacity the most sends waiting at once */
  constructor(capacity) {
    this.#capacity = capacity;
  }

  /**
   * Adds a send; the promise settles when take() hands the entry to DELIVERED or ERR. Throws
   * a ChatrixError, adding nothing, when the mark is pending already or the outbox is full.
   * @param {number|string} mark
   * @param {string} frame the TEXT frame, sent as is each time
   */
  add(mark, frame) {
    const key = markKey(mark);
    if (this.#entries.has(key)) {
      throw new ChatrixError('mark_in_use', `a send with mark ${JSON.stringify(mark)} is still pending`, { mark });
    }
    if (this.#entries.size >= this.#capacity) {
      throw new ChatrixError('queue_full', `${this.#capacity} sends are waiting for the server already`, { mark });
    }
    return new Promise((resolve, reject) => this.#entries.set(key, { mark, frame, resolve, reject }));
  }

  /** Removes and returns the entry with this mark, if one is pending. */
  take(mark) {
    const key = markKey(mark);
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    return entry;
  }

  /** The frames of every pending send, oldest first. */
  frames() {
    return [...this.#entries.values()].map((entry) => entry.frame);
  }

  rejectAll(error) {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) entry.reject(error);
  }
}
