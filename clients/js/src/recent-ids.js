// The ids of the last messages handed out. A TEXT whose ACK was lost with a dropped connection
// is pushed again on the next one (it is still pending on the server); it is ACKed again but
// not reported twice. 1000 covers a burst of pending messages several times over.

export class RecentIds {
  #ids = new Set();
  #capacity;

  constructor(capacity = 1000) {
    this.#capacity = capacity;
  }

  /** Records the id; false when it was recorded already. */
  add(id) {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) this.#ids.delete(this.#ids.values().next().value);
    return true;
  }
}
