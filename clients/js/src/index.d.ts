// Types of the Chatrix client SDK (src/index.js). The wire protocol is docs/protocol.md.

export type Mark = number | string;

export interface User {
  id: number;
  username: string;
  name: string;
}

export interface Session {
  token: string;
  user: User;
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
}

export interface Preview {
  user: User;
  chatId?: number;
  lastMessage?: { id: number; fromId: number; content: string; createdAt: number };
  /** Unix milliseconds. */
  lastMessageAt?: number;
  unread: number;
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
  RECEIVED: 10; ACK: 11; SENT: 12; REFRESH_TOKEN: 19;
}>;

/**
 * `code` is the server's stable code (docs/protocol.md, Errors), or one of the SDK's own:
 * `network`, `bad_url`, `bad_response`, `closed`, `logged_out`, `not_signed_in`, `queue_full`,
 * `mark_in_use`.
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
  /** A message to you (TEXT), or one you sent from another device (SENT, `own` true). */
  message: Message & { own: boolean };
  /** A message of yours was stored (DELIVERED). */
  delivered: Delivered;
  /** The recipient's device has these messages of yours (RECEIVED). */
  received: { messageIds: number[]; toId: number; timestamp: number };
  /** The recipient read these messages of yours (MARK_READ notice). */
  read: { messageIds: number[] };
  /** An ERR the server sent that no pending request took; also transport errors. */
  error: ChatrixError;
  /** The session ended for good (token expired or revoked, logout): log in again. */
  signedOut: ChatrixError;
}

export class ChatrixClient {
  constructor(options?: ClientOptions);

  readonly state: ConnectionState;
  readonly user: User | null;
  readonly token: string | null;
  /** The latest previews received. */
  readonly previews: Preview[];

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
  send(to: string | number | User, content: string, options?: { mark?: Mark }): Promise<Delivered> & { readonly mark: Mark };
  /** Marks the messages of `from` read; kept and sent after the reconnect while disconnected. */
  markRead(from: string | number | User, messageIds: number[]): void;
  search(fragment: string, options?: { limit?: number }): Promise<User[]>;
  /**
   * Messages with `other`, oldest first; `beforeId` pages backwards. Searches and history requests
   * made or unanswered while disconnected are sent (again) after the reconnect.
   */
  history(other: number | User, options?: { beforeId?: number; limit?: number }): Promise<Message[]>;

  on<K extends keyof EventMap>(event: K, listener: (value: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(event: K, listener: (value: EventMap[K]) => void): void;
}
