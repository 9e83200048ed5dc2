// Edits (14) and deletes (15) waiting for the server. Neither carries a request id: the server
// answers with the event itself, sent to every device of both people (this one included), or
// with an ERR naming the frame's type. So an event settles the waiting changes of the messages
// it names, and an ERR the oldest change of its type. Changes are sent only once the session is
// in step (after SYNCED): an edit or delete that the server applied before a drop comes back in
// the catch-up and settles here instead of being sent twice.

import { ChatrixError } from './errors.js';

export class PendingChanges {
  #pending = [];
  #capacity;

  /** @param {number} capacity the most edits and deletes waiting at once */
  constructor(capacity) {
    this.#capacity = capacity;
  }

  /**
   * Queues a change.
   * @param {'edit'|'delete'} kind
   * @param {number[]} messageIds the messages it changes
   * @param {string} frame sent as is each time
   */
  add(kind, messageIds, frame) {
    if (this.#pending.length >= this.#capacity) {
      return Promise.reject(new ChatrixError('queue_full', `${this.#capacity} edits and deletes are waiting already`));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ kind, ids: new Set(messageIds), frame, resolve, reject, sent: false });
    });
  }

  /** Frames of the changes not sent on the current connection, marking them sent. */
  unsent() {
    const frames = [];
    for (const change of this.#pending) {
      if (change.sent) continue;
      change.sent = true;
      frames.push(change.frame);
    }
    return frames;
  }

  /** The connection dropped: what was not settled goes out again once the next one is in step. */
  markAllUnsent() {
    for (const change of this.#pending) change.sent = false;
  }

  /**
   * An event of `kind` about `messageIds` arrived: every waiting change of that kind naming one
   * of them is done. (A delete's event lists only the messages it newly deleted, so one overlap
   * is enough: the rest were deleted already.)
   */
  settle(kind, messageIds, value) {
    const settled = this.#pending.filter((change) => change.kind === kind && messageIds.some((id) => change.ids.has(id)));
    if (!settled.length) return;
    this.#pending = this.#pending.filter((change) => !settled.includes(change));
    for (const change of settled) change.resolve(value);
  }

  /** An ERR of `kind` rejects the oldest change of that kind sent; false when none was. */
  rejectOldest(kind, error) {
    const index = this.#pending.findIndex((change) => change.kind === kind && change.sent);
    if (index < 0) return false;
    this.#pending.splice(index, 1)[0].reject(error);
    return true;
  }

  rejectAll(error) {
    const pending = this.#pending;
    this.#pending = [];
    for (const change of pending) change.reject(error);
  }
}
