// Searches (6 -> 7) and history requests (8 -> 9). The server answers each type in the order
// asked and the answers carry no request id, so each type is a FIFO: an answer, or an ERR
// naming the type in ref_type, settles the oldest request of that type. Unanswered requests
// are sent again, in order, on the next connection: both are reads, so repeating one is safe.
// A barrier is a request whose answer only marks a point in that order (changes.js): it belongs
// to one connection and is forgotten when it drops.

import { ChatrixError } from './errors.js';

export class RequestQueue {
  #pending = [];
  #capacity;
  #what;

  /**
   * @param {number} capacity the most requests of this type waiting at once
   * @param {string} what the requests' name, for errors
   */
  constructor(capacity, what) {
    this.#capacity = capacity;
    this.#what = what;
  }

  /**
   * Queues a request.
   * @param {() => string} frame builds the request frame when it is sent (it may need the profile)
   * @param {(body: unknown) => unknown} answer turns the answer's body into the result
   */
  add(frame, answer) {
    if (this.#pending.length >= this.#capacity) {
      return Promise.reject(new ChatrixError('queue_full', `${this.#capacity} ${this.#what} requests are waiting already`));
    }
    return new Promise((resolve, reject) => this.#pending.push({ frame, answer, resolve, reject, sent: false }));
  }

  /**
   * Queues a barrier: `reached` is called when its answer (or an ERR for it) comes. Not bounded
   * here: each stands for a change, which is.
   * @param {string} frame
   * @param {() => void} reached
   */
  addBarrier(frame, reached) {
    this.#pending.push({ frame: () => frame, reached, sent: false });
  }

  /** Frames of the requests not sent on the current connection, marking them sent. */
  unsent() {
    const frames = [];
    for (const request of this.#pending) {
      if (request.sent) continue;
      request.sent = true;
      frames.push(request.frame());
    }
    return frames;
  }

  /** The connection dropped: every request must go out again, and its barriers mean nothing now. */
  markAllUnsent() {
    this.#pending = this.#pending.filter((request) => !request.reached);
    for (const request of this.#pending) request.sent = false;
  }

  /** An answer settles the oldest request sent (one that nobody waits for is dropped). */
  resolveOldest(body) {
    const request = this.#takeOldestSent();
    if (!request) return;
    if (request.reached) return request.reached();
    try {
      request.resolve(request.answer(body));
    } catch (err) {
      request.reject(new ChatrixError('bad_response', `a malformed ${this.#what} answer: ${err?.message ?? err}`));
    }
  }

  /** An ERR settles the oldest request sent; false when none waited for it. */
  rejectOldest(error) {
    const request = this.#takeOldestSent();
    if (!request) return false;
    if (request.reached) request.reached();
    else request.reject(error);
    return true;
  }

  rejectAll(error) {
    const pending = this.#pending.filter((request) => !request.reached);
    this.#pending = [];
    for (const request of pending) request.reject(error);
  }

  #takeOldestSent() {
    const index = this.#pending.findIndex((request) => request.sent);
    return index < 0 ? undefined : this.#pending.splice(index, 1)[0];
  }
}
