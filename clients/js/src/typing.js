// Typing indicators (TYPING, 17). Outgoing: the server forgets a `typing: true` that is not
// repeated within 6 s, so while the user types to someone the client repeats it every 4 s (a
// margin of 2 s for a slow link) until setTyping(to, false), a send to that person, or a drop
// (the server clears a dropped device's indicators itself). Incoming: who is typing to this
// user, so that a message from them, or a drop, ends their indicator without waiting for the
// server's `false` (which a drop loses, and a message makes moot).

export const TYPING_REFRESH_MS = 4000;
// People typed to at once whose indicator is kept up; past it the oldest is let expire. One is
// the norm (a user types in one conversation), a few with several windows.
const MAX_TYPING_TARGETS = 32;
// People shown as typing to this user at once; past it the oldest is forgotten (the server's
// own expiry still clears it on screen through its `false`).
const MAX_TYPING_PEOPLE = 1000;

/** The same person, whether named by username (any case) or id: `{to?, to_id?}` fields of a frame. */
export function samePerson(a, b) {
  if (typeof a.to === 'string' && typeof b.to === 'string' && a.to.toLowerCase() === b.to.toLowerCase()) return true;
  return a.to_id !== undefined && a.to_id === b.to_id;
}

/** The indicators this device keeps up, each repeated by a timer. */
export class TypingRefresh {
  #targets = [];  // {recipient, timer}
  #transmit;

  /** @param {(recipient: object, typing: boolean) => void} transmit sends one TYPING frame */
  constructor(transmit) {
    this.#transmit = transmit;
  }

  /** Typing to `recipient` (the frame's to/to_id fields): sent now and every TYPING_REFRESH_MS. */
  start(recipient) {
    this.#forget(recipient);
    if (this.#targets.length >= MAX_TYPING_TARGETS) clearInterval(this.#targets.shift().timer);
    this.#transmit(recipient, true);
    const timer = setInterval(() => this.#transmit(recipient, true), TYPING_REFRESH_MS);
    this.#targets.push({ recipient, timer });
  }

  /** Stopped typing to `recipient`: `false` is sent now. */
  stop(recipient) {
    this.#forget(recipient);
    this.#transmit(recipient, false);
  }

  /** A message went to `recipient`: its arrival ends the indicator there, so it is not repeated. */
  sentTo(recipient) {
    this.#forget(recipient);
  }

  /** Nothing is repeated any more (a drop, or the server refused a TYPING frame). */
  stopAll() {
    for (const { timer } of this.#targets.splice(0)) clearInterval(timer);
  }

  #forget(recipient) {
    this.#targets = this.#targets.filter((target) => {
      if (!samePerson(target.recipient, recipient)) return true;
      clearInterval(target.timer);
      return false;
    });
  }
}

/** Who is typing to this user now, as the last TYPING event about each said. */
export class TypingPeople {
  #typing = new Map();  // fromId -> the Typing event that said true

  /** Records a TYPING event. */
  heard(event) {
    this.#typing.delete(event.fromId);
    if (!event.typing) return;
    if (this.#typing.size >= MAX_TYPING_PEOPLE) this.#typing.delete(this.#typing.keys().next().value);
    this.#typing.set(event.fromId, event);
  }

  /** A message from `fromId` arrived: the `typing: false` it implies, or undefined if they were not typing. */
  messageFrom(fromId, chatId) {
    const event = this.#typing.get(fromId);
    if (!event) return undefined;
    this.#typing.delete(fromId);
    return { ...event, chatId: chatId ?? event.chatId, typing: false };
  }

  /** The connection dropped: the `typing: false` of everyone shown typing. */
  clear() {
    const ended = [...this.#typing.values()].map((event) => ({ ...event, typing: false }));
    this.#typing.clear();
    return ended;
  }
}
