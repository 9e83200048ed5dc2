// Types of the Chatrix client SDK (src/index.js). The wire protocol is docs/protocol.md.

export type Mark = number | string;

export interface User {
  id: number;
  /** Empty for a deleted account. */
  username: string;
  /** "Deleted account" for a deleted account. */
  name: string;
  /** The account was deleted: its id stays, its name and username are gone. */
  deleted?: true;
}

/** GET and PATCH /v1/me. */
export interface Profile extends User {
  /** Others see you online and your last seen (and you see theirs). */
  showPresence: boolean;
}

/** What you last heard of someone's presence (presenceOf(), previews, the `presence` event). */
export interface PresenceState {
  online: boolean;
  /** When they were last online; null while hidden (theirs or yours: show_presence) or never known. */
  lastSeen: Date | null;
}

/** Someone is (or stopped) typing to you (TYPING, 17). */
export interface Typing {
  fromId: number;
  from: string;
  /** The conversation, null when you have none with them yet. */
  chatId: number | null;
  typing: boolean;
}

/** Someone you share a conversation with came online or went offline (PRESENCE, 18). */
export interface Presence extends PresenceState {
  userId: number;
  username: string;
}

/** A user you blocked (GET /v1/blocks, block()). */
export interface Block extends User {
  /** Unix milliseconds. */
  blockedAt: number;
}

/** A push token registered for your account (GET /v1/devices, registerPushDevice()). */
export interface PushDevice {
  /** 1-32 of a-z 0-9 _ - (e.g. "fcm", "apns", "webpush"). */
  platform: string;
  token: string;
  /** Unix milliseconds. */
  createdAt: number;
}

export interface Session {
  token: string;
  user: User;
}

/** A file as the server describes it: from uploadFile(), and on messages that carry it. */
export interface FileInfo {
  id: string;
  name: string;
  /** The Content-Type it was uploaded with. */
  type: string;
  /** Bytes. */
  size: number;
}

/** A message as the SDK hands it out, whichever frame brought it (TEXT, SENT, history). */
export interface Message {
  id: number;
  chatId: number;
  fromId: number;
  from?: string;
  fromName?: string;
  toId: number;
  to?: string;
  content: string;
  /** Unix milliseconds. */
  createdAt: number;
  /**
   * Only on your own messages. The SDK reports "stored", "delivered" and "read" (history, SENT);
   * "sending" is for the app's own entry while send() waits.
   */
  status?: "sending" | "stored" | "delivered" | "read";
  mark?: Mark;
  seq?: number;
  /** The id of the message this one answers (same conversation). */
  replyTo?: number;
  attachment?: FileInfo;
  /** Unix milliseconds of the last edit, when edited. */
  editedAt?: number;
  /** Deleted for everyone: `content` is empty and there is no attachment. */
  deleted?: true;
}

/** The last message of a preview; the fields of Message that previews carry. */
export interface LastMessage {
  id: number;
  fromId: number;
  content: string;
  createdAt: number;
  replyTo?: number;
  attachment?: FileInfo;
  editedAt?: number;
  deleted?: true;
}

export interface Preview {
  user: User;
  chatId?: number;
  lastMessage?: LastMessage;
  /** Unix milliseconds. */
  lastMessageAt?: number;
  unread: number;
  /** The other person is online (always false while either of you hides presence). */
  online: boolean;
  lastSeen: Date | null;
  /** Opaque: pass the last row's as `before` for the next page (previews()). */
  cursor?: string;
}

export interface Edited {
  messageId: number;
  chatId: number;
  content: string;
  /** Unix milliseconds. */
  editedAt: number;
}

export interface Deleted {
  /** The messages this delete newly deleted. */
  messageIds: number[];
  chatId: number;
  /** Unix milliseconds. */
  deletedAt: number;
}

/** Web Storage's calls, which is all the client uses of `options.storage`. */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Delivered {
  messageId: number;
  mark: Mark;
  chatId?: number;
  seq?: number;
  duplicate?: boolean;
  /** Unix milliseconds. */
  timestamp: number;
}

export interface ChatrixErrorInfo {
  code: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  refType?: number;
  mark?: Mark;
}

/** The event codes of docs/protocol.md. */
export const EventType: Readonly<{
  TEXT: 0; DELIVERED: 1; MARK_READ: 2; ERR: 3; PROFILE_INFO: 4; CHATPREVIEWS: 5;
  SEARCH_REQUEST: 6; SEARCH_RESPONSE: 7; HISTORY_REQUEST: 8; HISTORY_RESPONSE: 9;
  RECEIVED: 10; ACK: 11; SENT: 12; SYNCED: 13; EDIT: 14; DELETE: 15; READ_STATE: 16; TYPING: 17; PRESENCE: 18;
  REFRESH_TOKEN: 19;
}>;

/**
 * `code` is the server's stable code (docs/protocol.md, Errors), or one of the SDK's own:
 * `network`, `bad_url`, `bad_response`, `closed`, `logged_out`, `account_deleted`, `not_signed_in`,
 * `queue_full`, `mark_in_use`.
 */
export class ChatrixError extends Error implements ChatrixErrorInfo {
  constructor(code: string, message: string, details?: Omit<ChatrixErrorInfo, "code" | "message">);
  code: string;
  status?: number;
  retryAfterMs?: number;
  refType?: number;
  mark?: Mark;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface ClientOptions {
  /** The server's base URL, e.g. "http://localhost:6969"; in a browser it defaults to the page's origin. */
  url?: string;
  /** A token from an earlier login (kept across reloads by the app). */
  token?: string;
  /** Confirm each received TEXT with ACK (the server then reports RECEIVED per device). Default true. */
  acks?: boolean;
  /** Reconnect backoff: first delay and cap in ms (jittered, doubled per failure). Defaults 500 and 30000. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Most sends waiting for DELIVERED at once (queued or in flight); past it send() rejects with `queue_full`. Default 1000. */
  maxPendingSends?: number;
  /** Most searches, and most history requests, waiting at once; past it they reject with `queue_full`. Default 100. */
  maxPendingRequests?: number;
  /**
   * Where this device keeps its stream position (one entry per server and user), so that the
   * next connection, after a reload too, catches up from it. Default `localStorage` where there
   * is one; `null` keeps it in memory only (each new client is then a new device).
   */
  storage?: PositionStorage | null;
  /** A WebSocket constructor where there is no global one. */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export interface EventMap {
  /** Connection state changes. */
  state: ConnectionState;
  /** PROFILE_INFO after each (re)connect. */
  profile: User;
  /** CHATPREVIEWS after each (re)connect. */
  previews: Preview[];
  /** The catch-up is over (SYNCED): this device has every event up to `pos`, live ones follow. */
  synced: { pos: number };
  /**
   * The stored position was older than the server keeps (or unknown to it): it is forgotten, the
   * pending messages follow as for a new device, then `synced`. Reload previews and history.
   */
  syncExpired: ChatrixError;
  /** A message to you (TEXT), or one you sent from another device (SENT, `own` true). */
  message: Message & { own: boolean };
  /** A message of yours was stored (DELIVERED). */
  delivered: Delivered;
  /** The recipient's device has these messages of yours (RECEIVED). */
  received: { messageIds: number[]; toId: number; timestamp: number };
  /** The recipient read these messages of yours (MARK_READ notice). */
  read: { messageIds: number[] };
  /** You read these messages on another device (READ_STATE). */
  readState: { chatId: number; messageIds: number[] };
  /** A message of the conversation was edited (by you, on any device, or by the other person). */
  edited: Edited;
  /** Messages of the conversation were deleted for everyone. */
  deleted: Deleted;
  /**
   * Someone started or stopped typing to you. The server ends an indicator not refreshed within
   * 6 s; the client also reports `typing: false` when a message from them arrives, and for
   * everyone shown typing when the connection drops.
   */
  typing: Typing;
  /** Someone you share a conversation with came online or went offline (coalesced by the server). */
  presence: Presence;
  /** An ERR the server sent that no pending request took; also transport errors. */
  error: ChatrixError;
  /** The session ended for good (token expired or revoked, logout, deleteAccount()): log in again. */
  signedOut: ChatrixError;
}

export class ChatrixClient {
  constructor(options?: ClientOptions);

  readonly state: ConnectionState;
  readonly user: User | null;
  readonly token: string | null;
  /** The previews received at the latest connect. */
  readonly latestPreviews: Preview[];
  /** The stream position this device has every event up to (sent as `since` on each connect), or null. */
  readonly syncPosition: number | null;

  register(username: string, password: string, name?: string): Promise<Session>;
  login(username: string, password: string): Promise<Session>;
  /** Closes the socket, then revokes the token (POST /auth/logout); emits `signedOut` (code `logged_out`). */
  logout(): Promise<void>;

  /**
   * Opens the socket and keeps it open (reconnecting with backoff) until close(). Resolves with the
   * profile once connected, however many attempts that takes; rejects if the token is refused
   * (then `signedOut`) or close() is called first.
   */
  connect(): Promise<User>;
  close(): void;

  /**
   * Sends a TEXT. Resolves on DELIVERED (the message is durable); while disconnected it waits and is
   * resent with the same mark after the reconnect, so the server stores it once. The returned
   * promise carries the mark (the default one is unique), so a "sending" message can be shown
   * at once and matched with its DELIVERED.
   */
  send(
    to: string | number | User,
    content: string,
    options?: { mark?: Mark; replyTo?: number; attachment?: string | FileInfo },
  ): Promise<Delivered> & { readonly mark: Mark };
  /**
   * Changes the content of a message of yours (within the server's EDIT_WINDOW). Resolves once the
   * server applied it; the `edited` event then reaches every device of both people, this one
   * included. Rejects with `forbidden`, `not_found`, `edit_window_closed`, `invalid_field`
   * (a deleted message), `content_empty`, `content_too_long` or `rate_limited`. Waits for the
   * connection, and is sent once the device is in step (after `synced`).
   */
  edit(messageId: number, content: string): Promise<void>;
  /**
   * Deletes messages of yours (1 to 100, one conversation) for everyone. Resolves once the server
   * applied it (also when they were deleted already: then no `deleted` event comes of it).
   */
  delete(messageIds: number | number[]): Promise<void>;
  /**
   * Tells `to` you are typing (true) or stopped (false). While true the client repeats it every
   * 4 s until setTyping(to, false), a send() to `to`, or a drop. Not queued: does nothing while
   * not connected. Refusals arrive as `error` (refType 17: `blocked`, `unknown_recipient`,
   * `rate_limited`...); any but `rate_limited` stops the repeating.
   */
  setTyping(to: string | number | User, typing: boolean): void;
  /** What this client last heard of `userId`'s presence (previews, `presence` events), or undefined. */
  presenceOf(userId: number): PresenceState | undefined;
  /** Marks the messages of `from` read; kept and sent after the reconnect while disconnected. */
  markRead(from: string | number | User, messageIds: number[]): void;
  search(fragment: string, options?: { limit?: number }): Promise<User[]>;
  /**
   * Messages with `other`, oldest first; `beforeId` pages backwards. Searches and history requests
   * made or unanswered while disconnected are sent (again) after the reconnect.
   */
  history(other: number | User, options?: { beforeId?: number; limit?: number }): Promise<Message[]>;
  /** A page of previews over the socket, most recent first (limit 1..200, default 200); `before` is a row's `cursor`. */
  previews(options?: { before?: string; limit?: number }): Promise<Preview[]>;

  /** POST /v1/files: uploads bytes for an attachment. The name and type default to a File's own. */
  uploadFile(file: Blob | Uint8Array | ArrayBuffer, options?: { name?: string; type?: string }): Promise<FileInfo>;
  /** GET /v1/files/<id>: needs `Authorization: Bearer <token>`, so use downloadFile() to show it. */
  fileUrl(id: string): string;
  /** A file you may read, as a File with its name and type; `not_found` for anybody else's. */
  downloadFile(id: string): Promise<File>;
  /** GET /v1/conversations: a page of previews; pass `next` as `before` for the next page (null: no more). */
  conversations(options?: { before?: string; limit?: number }): Promise<{ conversations: Preview[]; next: string | null }>;
  /** GET /v1/me. */
  me(): Promise<Profile>;
  /**
   * PATCH /v1/me: a new display name (the registration rules apply) and/or whether others see you
   * online and your last seen. At least one. Resolves with the profile as changed.
   */
  updateMe(changes: { name?: string; showPresence?: boolean }): Promise<Profile>;
  /**
   * GET /v1/me/export: your account, blocks, push devices and every conversation with its
   * messages, as the parsed JSON document ("format": "chatrix-export/1"). `rate_limited` past
   * the server's EXPORT_LIMIT.
   */
  exportAccount(): Promise<Record<string, unknown>>;
  /**
   * DELETE /v1/me with your password (`bad_credentials` when wrong): the account is deleted and
   * every token revoked. The client closes; `signedOut` follows with `account_deleted`.
   */
  deleteAccount(password: string): Promise<void>;

  /** POST /v1/blocks: they can no longer reach you, and neither sees the other's typing or presence. */
  block(username: string): Promise<Block>;
  /** DELETE /v1/blocks/<username>; `not_found` when not blocked. */
  unblock(username: string): Promise<void>;
  /** GET /v1/blocks, most recent first. */
  blocks(): Promise<Block[]>;

  /** POST /v1/devices: the push webhook carries this token while the account has messages waiting. */
  registerPushDevice(platform: string, token: string): Promise<PushDevice>;
  /** DELETE /v1/devices; `not_found` when not registered. */
  unregisterPushDevice(platform: string, token: string): Promise<void>;
  /** GET /v1/devices. */
  pushDevices(): Promise<PushDevice[]>;

  on<K extends keyof EventMap>(event: K, listener: (value: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(event: K, listener: (value: EventMap[K]) => void): void;
}
