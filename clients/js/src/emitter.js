// A minimal event emitter. A listener that throws must not break the client's own handling of
// the frame that caused the event, so its exception is reported the way browsers report an
// EventTarget listener's: asynchronously, without unwinding the caller.

export class Emitter {
  #listeners = new Map();

  /** Adds a listener; returns the function that removes it. */
  on(event, listener) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
  }

  emit(event, value) {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(value);
      } catch (err) {
        reportListenerError(err);
      }
    }
  }
}

function reportListenerError(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else setTimeout(() => { throw err; });
}
