// Edits (14) and deletes (15) waiting for the server. Neither frame carries a request id, and a
// success has no answer of its own: the change comes back as an event to every device of both
// people, possibly through another node (so after later frames' answers), or not at all (a
// delete of messages deleted already). So each change is followed on the wire by a barrier, a
// request the server answers in order (client.js sends an empty search): the server handles
// one connection's frames one after the other, so an ERR naming the change's type that comes
// before its barrier's answer is the change's refusal, and the barrier's answer without one
// means it was applied.
//
// Changes are sent once the session is in step (after SYNCED). A change whose barrier did not
// come back before a drop goes out again on the next connection, unless the catch-up brings its
// event first (the server applied it before the drop).

import { ChatrixError } from './errors.js';

export class PendingChanges {
  #waiting = [];   // not sent on this connection, oldest first
  #inFlight = [];  // sent on this connection, each until its barrier's answer
  #capacity;

  /** @param {number} capacity the most edits and deletes waiting at once */
  constructor(capacity) {
    this.#capacity = capacity;
  }

  /**
   * Queues a change; the promise resolves once the server applied it.
   * @param {'edit'|'delete'} kind
   * @param {number[]} messageIds the messages it changes
   * @param {string} frame sent as is each time
   */
  add(kind, messageIds, frame) {
    if (this.#waiting.length + this.#inFlight.length >= this.#capacity) {
      return Promise.reject(new ChatrixError('queue_full', `${this.#capacity} edits and deletes are waiting already`));
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ kind, ids: new Set(messageIds), frame, resolve, reject, transmitted: false, settled: false });
    });
  }

  /**
   * The changes to send now, oldest first; each is in flight from now on. Send each change's
   * frame followed by its barrier, whose answer calls reached(change).
   */
  takeWaiting() {
    const changes = this.#waiting.splice(0);
    for (const change of changes) change.transmitted = true;
    this.#inFlight.push(...changes);
    return changes;
  }

  /** The barrier after `change` was answered: applied, unless an ERR refused it before. */
  reached(change) {
    this.#inFlight = this.#inFlight.filter((c) => c !== change);
    this.#finish(change, (c) => c.resolve());
  }

  /** An ERR naming `kind`: the refusal of the oldest change in flight not yet answered. */
  refuse(kind, error) {
    const change = this.#inFlight.find((c) => !c.settled);
    if (!change || change.kind !== kind) return false;
    this.#finish(change, (c) => c.reject(error));
    return true;
  }

  /**
   * An event of `kind` about `messageIds` arrived. A change sent on an earlier connection whose
   * answer was lost with it is done: the server applied it (this is how the catch-up settles
   * it). Changes in flight wait for their barrier, which is exact.
   */
  settle(kind, messageIds) {
    const applies = (c) => c.transmitted && c.kind === kind && messageIds.some((id) => c.ids.has(id));
    for (const change of this.#waiting) if (applies(change)) this.#finish(change, (c) => c.resolve());
    this.#waiting = this.#waiting.filter((c) => !c.settled);
  }

  /** The connection dropped: what had no answer goes out again, first, on the next one. */
  dropped() {
    this.#waiting.unshift(...this.#inFlight.filter((c) => !c.settled));
    this.#inFlight = [];
  }

  rejectAll(error) {
    const pending = [...this.#inFlight, ...this.#waiting];
    this.#inFlight = [];
    this.#waiting = [];
    for (const change of pending) this.#finish(change, (c) => c.reject(error));
  }

  #finish(change, how) {
    if (change.settled) return;
    change.settled = true;
    how(change);
  }
}
