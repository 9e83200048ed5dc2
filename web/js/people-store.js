// What the client knows about the people it chats with beyond their messages: who is online and
// when the others were last seen, who is typing to you, and whom you blocked. No DOM and no
// network, like chat-store.js: the app feeds it SDK events and the views ask it what to show.

/** A time from the SDK (a Date, or milliseconds) as milliseconds; null when there is none. */
export function toMs(time) {
  if (time instanceof Date) return time.getTime();
  return Number.isFinite(time) ? time : null;
}

export class PeopleStore {
  constructor() {
    /** @type {Map<number, {online: boolean, lastSeen: number|null}>} by user id */
    this.presence = new Map();
    /** The ids of the people typing to you now (the server ends each with typing:false). */
    this.typing = new Set();
    /** @type {Map<number, {id: number, username: string, name: string}>} the people you blocked, by id */
    this.blocked = new Map();
  }

  /** PRESENCE (18) or a preview row; true when what is shown changes. */
  applyPresence(userId, { online, lastSeen }) {
    const next = { online: online === true, lastSeen: toMs(lastSeen) };
    const known = this.presence.get(userId);
    if (known && known.online === next.online && known.lastSeen === next.lastSeen) return false;
    this.presence.set(userId, next);
    return true;
  }

  /** The previews of a (re)connect or a later page carry each peer's presence. */
  applyPreviews(previews) {
    for (const preview of previews) {
      if (preview.online !== undefined) this.applyPresence(preview.user.id, preview);
    }
  }

  presenceOf(userId) {
    return this.presence.get(userId) ?? null;
  }

  /** TYPING (17); true when it changes what is shown. */
  setTyping(userId, typing) {
    if (typing) {
      if (this.typing.has(userId)) return false;
      this.typing.add(userId);
      return true;
    }
    return this.typing.delete(userId);
  }

  isTyping(userId) {
    return this.typing.has(userId);
  }

  /**
   * A message from someone ends their typing: the server sends no typing:false after a send,
   * the clients clear it themselves. True when it changes what is shown.
   */
  messageFrom(userId) {
    return this.typing.delete(userId);
  }

  /** The connection dropped: nobody's typing:false would reach this device now. */
  clearTyping() {
    const had = this.typing.size > 0;
    this.typing.clear();
    return had;
  }

  /** GET /v1/blocks: the whole list, most recent first. */
  setBlocks(blocks) {
    this.blocked = new Map(blocks.map((entry) => [entry.id, entry]));
  }

  block(entry) {
    // A blocked pair sees neither's presence nor typing; the server sends them offline.
    this.blocked = new Map([[entry.id, entry], ...this.blocked]);
    this.typing.delete(entry.id);
  }

  unblock(userId) {
    return this.blocked.delete(userId);
  }

  isBlocked(userId) {
    return this.blocked.has(userId);
  }

  /** Most recent first, as the server lists them. */
  blockedList() {
    return [...this.blocked.values()];
  }
}
