// This device's place in the user's event stream (docs/protocol.md, Sync): the highest position
// up to which it has had every event, kept in the app's storage so that the next connection,
// even after a reload, asks for what came after it (`since`) instead of the pending messages.
//
// Positions are gap-free per user, but a device is not sent every one live: the read marks it
// makes itself, for one, are events only its other devices hear of. So the position moves only
// over contiguous events, and the events had above a gap are remembered (a bounded set) so
// that the catch-up after the next reconnect, which sends them again to fill the gap, is not
// reported twice. Past the bound the lowest are forgotten: reported twice at worst, never lost.

const DEFAULT_ABOVE_CAPACITY = 1000;

/** A stream position from a frame: a JSON number, or a string of digits. Null otherwise. */
export function parsePosition(value) {
  const pos = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return Number.isSafeInteger(pos) && pos >= 0 ? pos : null;
}

/**
 * Where a position is kept: one per server and user, the user being the token's subject (read,
 * not verified: the server does that), so a client made from a saved token finds its position
 * before the profile arrives. Null when the token is no JWT.
 */
export function positionKey(base, token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const sub = JSON.parse(atob(payload)).sub;
    if (typeof sub !== 'number' && typeof sub !== 'string') return null;
    return `chatrix.sync ${base} ${sub}`;
  } catch {
    return null;
  }
}

/** localStorage where there is one and it may be used (sandboxed frames throw on access). */
export function defaultStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export class StreamPosition {
  #storage;
  #key = null;
  #watermark = null;
  #above = new Set();
  #capacity;

  /**
   * @param {Pick<Storage, 'getItem'|'setItem'|'removeItem'>|null} storage where positions are kept
   *   across page loads (null: in memory only)
   * @param {number} [capacity] the most positions above a gap remembered
   */
  constructor(storage, capacity = DEFAULT_ABOVE_CAPACITY) {
    this.#storage = storage;
    this.#capacity = capacity;
  }

  /** The position to send as `since`, or null when this device has none yet. */
  get value() {
    return this.#watermark;
  }

  /**
   * Switches to the position kept under `key` (one per user and server). The same key keeps
   * what is in memory, positions above a gap included.
   */
  use(key) {
    if (key === this.#key) return;
    this.#key = key;
    this.#above.clear();
    this.#watermark = key === null ? null : parsePosition(this.#read(key));
  }

  /** True when this device has had the event at `pos` already. */
  had(pos) {
    return (this.#watermark !== null && pos <= this.#watermark) || this.#above.has(pos);
  }

  /** The event at `pos` was handled. */
  record(pos) {
    if (this.had(pos)) return;
    this.#above.add(pos);
    if (this.#watermark !== null) this.#advance();
    else this.#bound();
  }

  /** SYNCED: every event up to `latest` has been sent to this device. */
  synced(latest) {
    if (this.#watermark === null || latest > this.#watermark) this.#watermark = latest;
    this.#advance(true);
  }

  /** The server no longer has the events after this position (sync_expired): start afresh. */
  clear() {
    this.#watermark = null;
    this.#above.clear();
    if (this.#key !== null) this.#write(null);
  }

  #advance(changed = false) {
    for (const pos of this.#above) if (pos <= this.#watermark) this.#above.delete(pos);
    while (this.#above.delete(this.#watermark + 1)) {
      this.#watermark += 1;
      changed = true;
    }
    this.#bound();
    if (changed) this.#write(this.#watermark);
  }

  #bound() {
    if (this.#above.size <= this.#capacity) return;
    const sorted = [...this.#above].sort((a, b) => a - b);
    for (const pos of sorted.slice(0, sorted.length - this.#capacity)) this.#above.delete(pos);
  }

  // Storage may refuse (a full quota, a sandboxed frame): the position then lives in memory
  // only, and the next page load asks for the pending messages as a new device would.
  #read(key) {
    try {
      return this.#storage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  }

  #write(pos) {
    try {
      if (pos === null) this.#storage?.removeItem(this.#key);
      else this.#storage?.setItem(this.#key, String(pos));
    } catch {
      // As in #read.
    }
  }
}
