// The wire format (docs/protocol.md, Events): event codes, and the conversion of server bodies
// into the SDK's shapes (camelCase, Unix milliseconds). Pure functions, no I/O.

import { parsePosition } from './stream-position.js';

export const EventType = Object.freeze({
  TEXT: 0,
  DELIVERED: 1,
  MARK_READ: 2,
  ERR: 3,
  PROFILE_INFO: 4,
  CHATPREVIEWS: 5,
  SEARCH_REQUEST: 6,
  SEARCH_RESPONSE: 7,
  HISTORY_REQUEST: 8,
  HISTORY_RESPONSE: 9,
  RECEIVED: 10,
  ACK: 11,
  SENT: 12,
  SYNCED: 13,
  EDIT: 14,
  DELETE: 15,
  READ_STATE: 16,
  TYPING: 17,
  PRESENCE: 18,
  REFRESH_TOKEN: 19,
});

/** The text of a frame. */
export function encodeFrame(type, body) {
  return JSON.stringify({ type, body });
}

/**
 * A frame's {type, body, pos} (pos null when the frame carries no stream event), or null when
 * it is not a frame (the server never sends such; be lenient).
 */
export function decodeFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'number') return null;
  return { type: frame.type, body: frame.body ?? null, pos: parsePosition(frame.pos) };
}

const secondsToMs = (s) => (typeof s === 'number' ? s * 1000 : 0);
const rfc3339ToMs = (text) => (typeof text === 'string' ? Date.parse(text) || 0 : 0);

/** A file as the server describes it ({id, name, type, size}); anything else is no file. */
export function toFile(file) {
  if (!file || typeof file !== 'object' || typeof file.id !== 'string') return undefined;
  return { id: file.id, name: file.name, type: file.type, size: file.size };
}

/**
 * The fields a message may carry beyond its content (TEXT, SENT, history rows, previews): the
 * message it answers, its file, and whether it was edited or deleted.
 */
function addChanges(message, body) {
  if (Number.isInteger(body.reply_to)) message.replyTo = body.reply_to;
  const attachment = toFile(body.attachment);
  if (attachment) message.attachment = attachment;
  if (body.edited_at) message.editedAt = rfc3339ToMs(body.edited_at);
  if (body.deleted === true) message.deleted = true;
  return message;
}

/**
 * A user row. A deleted account keeps its id and is marked `deleted` (the server renders it
 * with an empty username and the name "Deleted account").
 */
export function toUser(row) {
  const user = { id: row.id, username: row.username, name: row.name || row.username };
  if (row.deleted === true) user.deleted = true;
  return user;
}

/** Unix seconds or null (the wire's last_seen) as a Date or null. */
function secondsToDate(s) {
  return typeof s === 'number' ? new Date(s * 1000) : null;
}

/** GET and PATCH /v1/me: the User and whether the account shows its presence. */
export function toProfile(body) {
  return { ...toUser(body), showPresence: body.show_presence !== false };
}

/** TYPING (17): someone is (or stopped) typing to you; chatId null before the first message. */
export function toTyping(body) {
  if (!Number.isInteger(body?.from_id) || typeof body.typing !== 'boolean') throw new TypeError('a typing event without from_id or typing');
  return { fromId: body.from_id, from: body.from, chatId: body.chat_id ?? null, typing: body.typing };
}

/** PRESENCE (18): someone you share a conversation with came online or went offline. */
export function toPresence(body) {
  if (!Number.isInteger(body?.user_id) || typeof body.online !== 'boolean') throw new TypeError('a presence event without user_id or online');
  return { userId: body.user_id, username: body.username, online: body.online, lastSeen: secondsToDate(body.last_seen) };
}

/** A row of GET /v1/blocks (and POST's answer): the blocked user and when (Unix ms). */
export function toBlock(row) {
  return { ...toUser(row), blockedAt: rfc3339ToMs(row.blocked_at) };
}

/** A push device row (POST and GET /v1/devices), registered at `createdAt` (Unix ms). */
export function toPushDevice(row) {
  return { platform: row.platform, token: row.token, createdAt: rfc3339ToMs(row.created_at) };
}

/**
 * A TEXT (to you) or SENT (from your other device) body as a Message. SENT is only sent once
 * the message is stored, so an own message arrives as "stored".
 */
export function toMessage(body, own) {
  if (!Number.isInteger(body?.msg_id)) throw new TypeError('a message without msg_id');
  const message = {
    id: body.msg_id,
    chatId: body.chat_id,
    fromId: body.from_id,
    from: body.from,
    fromName: body.from_name || body.from,
    toId: body.to_id,
    to: body.to,
    content: body.content,
    createdAt: secondsToMs(body.timestamp),
    seq: body.seq,
    own,
  };
  if (own) message.status = 'stored';
  return addChanges(message, body);
}

export function toDelivered(body) {
  return {
    messageId: body.message_id,
    mark: body.mark,
    chatId: body.chat_id,
    seq: body.seq,
    duplicate: body.duplicate === true,
    timestamp: secondsToMs(body.timestamp),
  };
}

export function toReceived(body) {
  return { messageIds: body.message_ids ?? [], toId: body.to_id, timestamp: secondsToMs(body.timestamp) };
}

/** EDIT (14): a message's new content. */
export function toEdited(body) {
  if (!Number.isInteger(body?.message_id)) throw new TypeError('an edit without message_id');
  return { messageId: body.message_id, chatId: body.chat_id, content: body.content, editedAt: rfc3339ToMs(body.edited_at) };
}

/** DELETE (15): messages deleted for everyone. */
export function toDeleted(body) {
  if (!Array.isArray(body?.message_ids)) throw new TypeError('a delete without message_ids');
  return { messageIds: body.message_ids, chatId: body.chat_id, deletedAt: rfc3339ToMs(body.deleted_at) };
}

/** READ_STATE (16): messages this user read on another device. */
export function toReadState(body) {
  if (!Array.isArray(body?.message_ids)) throw new TypeError('a read state without message_ids');
  return { chatId: body.chat_id, messageIds: body.message_ids };
}

/** CHATPREVIEWS: null (no conversation yet) becomes an empty list. */
export function toPreviews(body) {
  if (!Array.isArray(body)) return [];
  return body.map((row) => {
    const preview = { user: toUser(row), unread: row.unread ?? 0, online: row.online === true, lastSeen: secondsToDate(row.last_seen) };
    if (row.chat_id !== undefined) preview.chatId = row.chat_id;
    if (row.last_message_at !== undefined) preview.lastMessageAt = secondsToMs(row.last_message_at);
    if (row.last_message) {
      const last = row.last_message;
      preview.lastMessage = addChanges({ id: last.id, fromId: last.from_id, content: last.content, createdAt: secondsToMs(last.timestamp) }, last);
    }
    if (typeof row.cursor === 'string') preview.cursor = row.cursor;
    return preview;
  });
}

/**
 * A history page (oldest first; null when empty) as Messages. `me` and `other` fill in the
 * names the rows do not carry; own messages get their status from `read` and `delivered`.
 * @param {any} body
 * @param {{id: number, username: string, name: string}} me
 * @param {{id: number, username?: string, name?: string}} other
 */
export function toHistory(body, me, other) {
  if (!Array.isArray(body)) return [];
  return body.map((row) => {
    const own = row.user_id === me.id;
    const sender = own ? me : other;
    const recipient = own ? other : me;
    const message = {
      id: row.id,
      chatId: row.chat_id,
      fromId: row.user_id,
      toId: row.to_id ?? recipient.id,
      content: row.content,
      createdAt: Date.parse(row.created_at) || 0,
      seq: row.seq,
    };
    if (sender.username !== undefined) message.from = sender.username;
    if (sender.name !== undefined) message.fromName = sender.name || sender.username;
    if (recipient.username !== undefined) message.to = recipient.username;
    if (own) message.status = row.read ? 'read' : row.delivered ? 'delivered' : 'stored';
    return addChanges(message, row);
  });
}
