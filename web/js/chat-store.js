// What the client knows about its chats: the people, the last message and unread count of each
// chat, the loaded part of each conversation, and the status of your own messages. No DOM and no
// network here: the app feeds it SDK events and renders what it says.

const STATUS_RANK = { failed: -1, sending: 0, stored: 1, delivered: 2, read: 3 };

/** Statuses only move forward: a late "stored" never undoes "read". */
function advance(message, status) {
  if ((STATUS_RANK[status] ?? -1) > (STATUS_RANK[message.status] ?? -1)) {
    message.status = status;
    return true;
  }
  return false;
}

function byPosition(a, b) {
  // Stored messages in id order (the server's order), messages still sending after them.
  if (a.id !== undefined && b.id !== undefined) return a.id - b.id;
  if (a.id !== undefined) return -1;
  if (b.id !== undefined) return 1;
  return a.localSeq - b.localSeq;
}

export class ChatStore {
  constructor(me) {
    this.me = me;
    /** @type {Map<number, object>} chats by the other person's id */
    this.chats = new Map();
    /** Own messages by id, across chats, for RECEIVED and read notices. */
    this.ownById = new Map();
    this.localSeq = 0;
  }

  /** The chat with `user`, created empty the first time. */
  chatWith(user) {
    let chat = this.chats.get(user.id);
    if (!chat) {
      chat = {
        user: { ...user },
        lastMessage: null,
        lastAt: 0,
        maxId: 0,
        unread: 0,
        messages: [],
        byId: new Map(),
        loaded: false,
        stale: false,
        hasEarlier: false,
        listed: false,
        loadingLatest: false,
        loadingEarlier: false,
      };
      this.chats.set(user.id, chat);
    } else if (user.username) {
      Object.assign(chat.user, user);
    }
    return chat;
  }

  /** Most recent first; a chat just started from search (no message yet) on top. */
  sortedChats() {
    return [...this.chats.values()]
      .filter((chat) => chat.listed)
      .sort((a, b) => (b.lastAt || Infinity) - (a.lastAt || Infinity));
  }

  /** CHATPREVIEWS: the server's view of every chat, after each (re)connect. */
  applyPreviews(previews) {
    for (const preview of previews) {
      const chat = this.chatWith(preview.user);
      chat.listed = true;
      const last = preview.lastMessage;
      if (last && last.id >= chat.maxId) {
        chat.lastMessage = { ...last };
        chat.maxId = last.id;
      }
      chat.lastAt = Math.max(chat.lastAt, preview.lastMessageAt ?? last?.createdAt ?? 0);
      chat.unread = preview.unread ?? 0;
    }
  }

  /**
   * A message from the other person, or one of yours from another device. Returns the chat, and
   * whether the message is new (not seen before, so it counts as unread when the chat is not open).
   */
  addMessage(message, own) {
    const other = own
      ? { id: message.toId, username: message.to, name: message.to }
      : { id: message.fromId, username: message.from, name: message.fromName || message.from };
    const chat = this.chatWith(this.chats.has(other.id) ? { id: other.id } : other);
    chat.listed = true;
    const isNew = message.id > chat.maxId;
    if (isNew) {
      chat.maxId = message.id;
      chat.lastMessage = { id: message.id, fromId: message.fromId, content: message.content, createdAt: message.createdAt };
      chat.lastAt = Math.max(chat.lastAt, message.createdAt);
      if (!own) chat.unread += 1;
    }
    // A conversation never opened is fetched when it is; keeping only its live part would leave
    // a gap between that and history. One being fetched keeps what arrives meanwhile.
    if (chat.loaded || chat.loadingLatest) this.insert(chat, this.record(message, own));
    return { chat, isNew };
  }

  /** One of your messages, shown at once and sent in the background. */
  addSending(user, content, mark) {
    const chat = this.chatWith(user);
    chat.listed = true;
    const now = Date.now();
    const message = this.record({ mark, fromId: this.me.id, toId: user.id, content, createdAt: now }, true);
    message.status = "sending";
    this.insert(chat, message);
    chat.lastMessage = { fromId: this.me.id, content, createdAt: now };
    chat.lastAt = Math.max(chat.lastAt, now);
    return { chat, message };
  }

  /** DELIVERED: the message is stored and has its id now. */
  markStored(chat, message, delivered) {
    if (message.id === undefined) {
      message.id = delivered.messageId;
      chat.byId.set(message.id, message);
      this.ownById.set(message.id, message);
      chat.messages.sort(byPosition);
      if (message.id > chat.maxId) chat.maxId = message.id;
      if (chat.lastMessage && chat.lastMessage.id === undefined && chat.lastMessage.content === message.content) {
        chat.lastMessage.id = message.id;
      }
    }
    advance(message, "stored");
  }

  markFailed(message, reason) {
    message.status = "failed";
    message.error = reason;
  }

  /** RECEIVED or a read notice; returns the chats that changed. */
  advanceOwn(messageIds, status) {
    const changed = new Set();
    for (const id of messageIds) {
      const message = this.ownById.get(id);
      if (message && advance(message, status)) changed.add(message.chatUserId);
    }
    return changed;
  }

  /**
   * A page of history. `latest`: the newest page, after opening or reconnecting; when it does not
   * reach the messages already loaded (many came in while offline), those are dropped so the
   * conversation has no gap. Otherwise an older page, `beforeId` the oldest loaded.
   */
  mergeHistory(chat, page, { latest, limit }) {
    if (latest) {
      const known = chat.messages.filter((m) => m.id !== undefined);
      const oldestOfPage = page[0]?.id;
      const newestKnown = known.at(-1)?.id;
      const gap = oldestOfPage !== undefined && newestKnown !== undefined && oldestOfPage > newestKnown;
      if (gap) {
        for (const m of known) chat.byId.delete(m.id);
        chat.messages = chat.messages.filter((m) => m.id === undefined);
      }
      if (!chat.loaded || gap) chat.hasEarlier = page.length >= limit;
      chat.loaded = true;
    } else {
      chat.hasEarlier = page.length >= limit;
    }
    for (const m of page) {
      const own = m.fromId === this.me.id;
      const existing = chat.byId.get(m.id);
      if (existing) {
        if (own && m.status) advance(existing, m.status);
        if (!own && m.read) existing.readByMe = true;
        continue;
      }
      const record = this.record(m, own);
      if (!own) record.readByMe = m.read === true || chat.unread === 0;
      this.insert(chat, record);
      if (m.id > chat.maxId) {
        chat.maxId = m.id;
        chat.lastMessage = { id: m.id, fromId: m.fromId, content: m.content, createdAt: m.createdAt };
        chat.lastAt = Math.max(chat.lastAt, m.createdAt);
      }
    }
  }

  /** The other person's messages in this chat not yet marked read by you; flags them marked. */
  takeUnreadIds(chat) {
    const ids = [];
    for (const m of chat.messages) {
      if (!m.own && !m.readByMe && m.id !== undefined) {
        m.readByMe = true;
        ids.push(m.id);
      }
    }
    chat.unread = 0;
    return ids;
  }

  record(message, own) {
    const chatUserId = own ? message.toId : message.fromId;
    const record = {
      key: message.id !== undefined ? `id-${message.id}` : `mark-${message.mark}`,
      id: message.id,
      mark: message.mark,
      fromId: message.fromId,
      content: message.content,
      createdAt: message.createdAt,
      own,
      chatUserId,
      localSeq: this.localSeq++,
    };
    if (own) record.status = message.status ?? "stored";
    return record;
  }

  insert(chat, record) {
    if (record.id !== undefined) {
      if (chat.byId.has(record.id)) return;
      chat.byId.set(record.id, record);
      if (record.own) this.ownById.set(record.id, record);
    }
    chat.messages.push(record);
    chat.messages.sort(byPosition);
  }
}
