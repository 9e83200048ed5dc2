// What this client last heard of other people's presence: from the previews rows (online,
// last_seen) and from PRESENCE events (18). Bounded: a user has at most a few thousand
// conversations, and a person forgotten here is filled in again by the next previews page.

const MAX_PEOPLE = 10_000;

export class PresenceTable {
  #people = new Map();  // userId -> {online, lastSeen}

  /** The latest presence of `userId`, or undefined when nothing was heard of them. */
  of(userId) {
    const known = this.#people.get(userId);
    return known && { online: known.online, lastSeen: known.lastSeen };
  }

  set(userId, online, lastSeen) {
    this.#people.delete(userId);
    if (this.#people.size >= MAX_PEOPLE) this.#people.delete(this.#people.keys().next().value);
    this.#people.set(userId, { online, lastSeen });
  }

  clear() {
    this.#people.clear();
  }

  /** Previews rows carry each peer's presence as of the page. */
  fromPreviews(previews) {
    for (const preview of previews) this.set(preview.user.id, preview.online, preview.lastSeen);
  }
}
