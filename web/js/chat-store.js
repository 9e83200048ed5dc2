// What the client knows about its chats: the people, the last message and unread count of each
// chat, the loaded part of each conversation (with edits, deletes, replies and files), and the
// status of your own messages. No DOM and no network here: the app feeds it SDK events and
// renders what it says.

const STATUS_RANK = { failed: -1, sending: 0, stored: 1, delivered: 2, read: 3 };

/** Statuses only move forward: a late "stored" never undoes "read". */
function advance(message, status) {
  if ((STATUS_RANK[status] ?? -1) > (STATUS_RANK[message.status] ?? -1)) {
    message.status = status;
    return true;
  }
  return false;
}

/** Your stored, undeleted message within the edit window. */
export function canEdit(message, now = Date.now()) {
  return message.own && message.id !== undefined && !message.deleted && now - message.createdAt < EDIT_WINDOW_MS;
}

/** The newest of your messages in this chat you may still edit (Up arrow in an empty composer). */
export function lastEditable(chat, now = Date.now()) {
  return chat.messages.findLast((m) => canEdit(m, now)) ?? null;
}

function markDeleted(message, deletedAt) {
  message.deleted = true;
  message.deletedAt = deletedAt;
  message.content = "";
  delete message.attachment;
  delete message.file;
  delete message.pendingEdit;
}

/** The chat list's copy of a message: what its row shows. */
function lastMessageOf(message) {
  const last = { id: message.id, mark: message.mark, fromId: message.fromId, content: message.content, createdAt: message.createdAt };
  if (message.attachment) last.attachment = message.attachment;
  if (message.editedAt) last.editedAt = message.editedAt;
  if (message.deleted) last.deleted = true;
  return last;
}

function byPosition(a, b) {
  // Stored messages in id order (the server's order), messages still sending after them.
  if (a.id !== undefined && b.id !== undefined) return a.id - b.id;
  if (a.id !== undefined) return -1;
  if (b.id !== undefined) return 1;
  return a.localSeq - b.localSeq;
}

/** The server's EDIT_WINDOW default: past it the Edit action is not offered (the server decides). */
export const EDIT_WINDOW_MS = 48 * 60 * 60 * 1000;
/** The server sends the 200 most recent conversations at connect; a full page means there are more. */
export const CONNECT_PREVIEWS = 200;

/** What a chat list row says about a last message: its text, or what stands in for it. */
export function previewText(message) {
  if (message.deleted) return "Message deleted";
  if (message.content) return message.content;
  if (message.attachment) return `File: ${message.attachment.name}`;
  return "";
}

export class ChatStore {
  constructor(me) {
    this.me = me;
    /** @type {Map<number, object>} chats by the other person's id */
    this.chats = new Map();
    /** The same chats by the server's chat_id, for edits, deletes and read state. */
    this.chatsById = new Map();
    /** Own messages by id, across chats, for RECEIVED and read notices. */
    this.ownById = new Map();
    this.localSeq = 0;
    /** Paging the chat list beyond the connect page: the last row's cursor, and whether more exist. */
    this.previewsCursor = null;
    this.morePreviews = false;
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
        /** Ids counted into `unread` live (after the previews), so another device's read takes them back out. */
        liveUnread: new Set(),
        /** The newest id the previews' unread count covers. */
        previewMaxId: 0,
        /** The newest message id from the other person known. */
        maxIncomingId: 0,
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
    } else if (user.username !== undefined) {
      // A full row (previews, search): a new name, or the account deleted meanwhile ("" username).
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

  /**
   * CHATPREVIEWS: the server's view of these chats. `page` false: the list sent at each
   * (re)connect; true: an older page asked for while scrolling, `limit` rows at most.
   */
  applyPreviews(previews, { page = false, limit = CONNECT_PREVIEWS } = {}) {
    for (const preview of previews) {
      const chat = this.chatWith(preview.user);
      chat.listed = true;
      this.setChatId(chat, preview.chatId);
      const last = preview.lastMessage;
      if (last && last.id >= chat.maxId) {
        chat.lastMessage = { ...last };
        chat.maxId = last.id;
      }
      chat.lastAt = Math.max(chat.lastAt, preview.lastMessageAt ?? last?.createdAt ?? 0);
      chat.unread = preview.unread ?? 0;
      chat.liveUnread.clear();
      chat.previewMaxId = Math.max(chat.previewMaxId, last?.id ?? 0);
      if (last && last.fromId !== this.me.id) chat.maxIncomingId = Math.max(chat.maxIncomingId, last.id);
    }
    // A later page continues from its last row; the connect page starts the list over.
    if (previews.length || !page) this.previewsCursor = previews.at(-1)?.cursor ?? null;
    this.morePreviews = previews.length >= limit && this.previewsCursor !== null;
  }

  setChatId(chat, chatId) {
    if (chatId === undefined || chatId === null) return;
    chat.chatId = chatId;
    this.chatsById.set(chatId, chat);
  }

  /** The chat an event is about: by its chat_id, else the one holding one of its messages. */
  chatFor(chatId, messageIds) {
    const chat = this.chatsById.get(chatId);
    if (chat) return chat;
    for (const candidate of this.chats.values()) {
      if (messageIds.some((id) => candidate.byId.has(id) || candidate.lastMessage?.id === id)) {
        this.setChatId(candidate, chatId);
        return candidate;
      }
    }
    return null;
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
    this.setChatId(chat, message.chatId);
    const isNew = message.id > chat.maxId;
    if (isNew) {
      chat.maxId = message.id;
      chat.lastMessage = lastMessageOf(message);
      chat.lastAt = Math.max(chat.lastAt, message.createdAt);
      if (!own) {
        chat.unread += 1;
        chat.liveUnread.add(message.id);
      }
    }
    if (!own) chat.maxIncomingId = Math.max(chat.maxIncomingId, message.id);
    // A conversation never opened is fetched when it is; keeping only its live part would leave
    // a gap between that and history. One being fetched keeps what arrives meanwhile.
    if (chat.loaded || chat.loadingLatest) this.insert(chat, this.record(message, own));
    return { chat, isNew };
  }

  /**
   * One of your messages, shown at once and sent in the background. `replyTo`: the id it answers;
   * `file`: a File still to upload, shown by its name and size until it is.
   */
  addSending(user, content, mark, { replyTo, file } = {}) {
    const chat = this.chatWith(user);
    chat.listed = true;
    const now = Date.now();
    const attachment = file ? { name: file.name, type: file.type, size: file.size } : undefined;
    const message = this.record({ mark, fromId: this.me.id, toId: user.id, content, createdAt: now, replyTo, attachment }, true);
    message.status = "sending";
    if (file) message.file = file;
    this.insert(chat, message);
    chat.lastMessage = lastMessageOf(message);
    chat.lastAt = Math.max(chat.lastAt, now);
    return { chat, message };
  }

  /** The upload of a sending message's file is done: it is sent as this file id now. */
  markUploaded(message, attachment) {
    message.attachment = attachment;
    delete message.file;
  }

  /** DELIVERED: the message is stored and has its id now. */
  markStored(chat, message, delivered) {
    if (message.id === undefined) {
      message.id = delivered.messageId;
      chat.byId.set(message.id, message);
      this.ownById.set(message.id, message);
      chat.messages.sort(byPosition);
      if (message.id > chat.maxId) chat.maxId = message.id;
      if (chat.lastMessage && chat.lastMessage.id === undefined && chat.lastMessage.mark === message.mark) {
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

  /** EDIT (14), live or caught up: the new text, "edited". Returns the chat, or null if unknown. */
  applyEdit({ messageId, chatId, content, editedAt }) {
    const chat = this.chatFor(chatId, [messageId]);
    if (!chat) return null;
    const message = chat.byId.get(messageId);
    if (message && !message.deleted) {
      message.content = content;
      message.editedAt = editedAt;
      delete message.pendingEdit;
    }
    if (chat.lastMessage?.id === messageId && !chat.lastMessage.deleted) {
      chat.lastMessage.content = content;
      chat.lastMessage.editedAt = editedAt;
    }
    return chat;
  }

  /** DELETE (15): the messages stay in place as "message deleted", their text and file gone. */
  applyDelete({ messageIds, chatId, deletedAt }) {
    const chat = this.chatFor(chatId, messageIds);
    if (!chat) return null;
    for (const id of messageIds) {
      const message = chat.byId.get(id);
      if (message) markDeleted(message, deletedAt);
      if (chat.lastMessage?.id === id) markDeleted(chat.lastMessage, deletedAt);
    }
    return chat;
  }

  /**
   * READ_STATE (16): another device of yours read these messages. Live, the unread count drops
   * by what it counted of them (all of it once the newest message known is among them). While
   * catching up the count is left alone: the previews just before were counted after that read.
   */
  applyReadState({ chatId, messageIds }, { catchingUp = false } = {}) {
    const chat = this.chatFor(chatId, messageIds);
    if (!chat) return null;
    for (const id of messageIds) {
      const message = chat.byId.get(id);
      if (message && !message.own) message.readByMe = true;
    }
    if (catchingUp) return chat;
    let read = 0;
    for (const id of messageIds) {
      if (chat.liveUnread.delete(id) || id <= chat.previewMaxId) read += 1;
    }
    // A device marks everything it shows, so a mark reaching the newest message known is all.
    chat.unread = Math.max(...messageIds) >= chat.maxIncomingId ? 0 : Math.max(0, chat.unread - read);
    if (chat.unread === 0) chat.liveUnread.clear();
    return chat;
  }

  /** Shows your edit at once; the EDIT event confirms it, revertEdit() undoes it if refused. */
  startEdit(message, content) {
    message.pendingEdit ??= { content: message.content, editedAt: message.editedAt };
    message.content = content;
  }

  revertEdit(message) {
    if (!message.pendingEdit) return;
    message.content = message.pendingEdit.content;
    message.editedAt = message.pendingEdit.editedAt;
    delete message.pendingEdit;
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
        // History is the server's state when it answered: an edit or delete missed meanwhile
        // shows now, but a live edit that overtook the answer is not undone.
        if (m.deleted) markDeleted(existing, m.deletedAt);
        else if (!existing.pendingEdit && !existing.deleted && (m.editedAt ?? 0) >= (existing.editedAt ?? 0)) {
          existing.content = m.content;
          existing.editedAt = m.editedAt;
        }
        continue;
      }
      const record = this.record(m, own);
      if (!own) {
        record.readByMe = m.read === true || chat.unread === 0;
        chat.maxIncomingId = Math.max(chat.maxIncomingId, m.id);
      }
      this.insert(chat, record);
      if (m.id > chat.maxId) {
        chat.maxId = m.id;
        chat.lastMessage = lastMessageOf(record);
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
    chat.liveUnread.clear();
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
      replyTo: message.replyTo,
      attachment: message.attachment,
      editedAt: message.editedAt,
      deleted: message.deleted === true,
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
