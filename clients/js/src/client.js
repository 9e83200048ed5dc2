// ChatrixClient: accounts over HTTP, and one WebSocket session kept open across drops. The
// connection's life is the `state` field, changed only in #setState; everything waiting on
// the server (sends, searches, history requests, read marks) waits in a bounded queue and is
// sent again on each new connection until the server answers it.

import { Emitter } from './emitter.js';
import { ChatrixError, errorFromFrame } from './errors.js';
import { baseUrl, postJson, socketUrl } from './http.js';
import { reconnectDelay } from './backoff.js';
import { Outbox } from './outbox.js';
import { RequestQueue } from './requests.js';
import { RecentIds } from './recent-ids.js';
import {
  EventType, decodeFrame, encodeFrame, toDelivered, toHistory, toMessage, toPreviews, toReceived, toUser,
} from './wire.js';

// maxPendingSends stays below the server's default MESSAGE_BURST (2000), so resending every
// waiting send at once after a reconnect is never refused for its rate.
const DEFAULTS = Object.freeze({
  acks: true,
  reconnectDelayMs: 500,
  maxReconnectDelayMs: 30_000,
  maxPendingSends: 1000,
  maxPendingRequests: 100,
});

// A connection not authenticated after this long is abandoned and retried. The server's own
// AUTH_TIMEOUT is 10 s, so this never gives up before the server would have answered; it
// catches the connections that hang in TCP (a dead route) where no close event would come.
const AUTHENTICATE_TIMEOUT_MS = 15_000;
// MARK_READ frames kept while disconnected. Read marks are advisory (the app marks again
// when the conversation is next shown), so past this the oldest is dropped, not refused.
const MAX_QUEUED_READS = 256;
// The server takes at most 1000 ids per MARK_READ (docs/protocol.md, Limits).
const MAX_IDS_PER_READ = 1000;
const SOCKET_OPEN = 1;
const SOCKET_CLOSED = 3;

/** The Chatrix client. Documented in README.md; the types are index.d.ts. */
export class ChatrixClient {
  #emitter = new Emitter();
  #options;
  #base;
  #WebSocket;
  #fetch;

  #state = 'idle';
  #token;
  #user = null;
  #previews = [];

  #socket = null;
  #authenticateTimer;
  #reconnectTimer;
  #failures = 0;
  #serverRetryAfterMs = 0;
  #connecting = null;  // {promise, resolve, reject} while connect() waits for PROFILE_INFO

  #outbox;
  #searches;
  #histories;
  #reads = [];
  #seen = new RecentIds();
  #markPrefix = randomMarkPrefix();
  #markCount = 0;

  /** @param {import('./index.js').ClientOptions} [options] */
  constructor(options = {}) {
    this.#options = { ...DEFAULTS, ...withoutUndefined(options) };
    this.#base = baseUrl(options.url);
    this.#token = options.token ?? null;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    // fetch must be called with the global as `this` in browsers, not the client.
    this.#fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.#outbox = new Outbox(this.#options.maxPendingSends);
    this.#searches = new RequestQueue(this.#options.maxPendingRequests, 'search');
    this.#histories = new RequestQueue(this.#options.maxPendingRequests, 'history');
  }

  get state() { return this.#state; }
  get user() { return this.#user; }
  get token() { return this.#token; }
  get previews() { return this.#previews; }

  on(event, listener) { return this.#emitter.on(event, listener); }
  off(event, listener) { this.#emitter.off(event, listener); }

  // ---- accounts (HTTP) ----

  async register(username, password, name = '') {
    return this.#signIn('/auth/register', { username, password, name });
  }

  async login(username, password) {
    return this.#signIn('/auth/login', { username, password });
  }

  /** Closes the session, then revokes the token; `signedOut` follows with code `logged_out`. */
  async logout() {
    const token = this.#token;
    if (!token) throw new ChatrixError('not_signed_in', 'logout() needs a token: nobody is logged in');
    const ended = new ChatrixError('logged_out', 'logged out');
    this.#token = null;
    this.#user = null;
    this.#shutDown(ended);
    try {
      await postJson(this.#fetch, `${this.#base}/auth/logout`, { token });
    } catch (err) {
      // A token the server refuses already is as logged out as it gets.
      if (err.code !== 'unauthorized') throw err;
    } finally {
      this.#emitter.emit('signedOut', ended);
    }
  }

  async #signIn(path, body) {
    const answer = await postJson(this.#fetch, this.#base + path, { body });
    if (typeof answer.token !== 'string') throw new ChatrixError('bad_response', `${path} answered without a token`);
    this.#token = answer.token;
    if (answer.user) this.#user = toUser(answer.user);
    return { token: this.#token, user: this.#user };
  }

  // ---- the connection ----

  connect() {
    if (!this.#token) return Promise.reject(new ChatrixError('not_signed_in', 'connect() needs a token: log in first'));
    if (typeof this.#WebSocket !== 'function') {
      return Promise.reject(new ChatrixError('network',
        'there is no WebSocket here: pass options.WebSocket, or run Node 20 with --experimental-websocket'));
    }
    if (this.#state === 'open') return Promise.resolve(this.#user);
    if (!this.#connecting) {
      const connecting = {};
      connecting.promise = new Promise((resolve, reject) => Object.assign(connecting, { resolve, reject }));
      this.#connecting = connecting;
    }
    if (this.#state === 'idle' || this.#state === 'closed') {
      this.#failures = 0;
      this.#setState('connecting');
      globalThis.addEventListener?.('online', this.#retryNow);
      this.#openSocket();
    }
    return this.#connecting.promise;
  }

  close() {
    this.#shutDown(new ChatrixError('closed', 'the client was closed'));
  }

  #setState(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitter.emit('state', state);
  }

  #openSocket() {
    this.#reconnectTimer = undefined;
    let ws;
    try {
      ws = new this.#WebSocket(socketUrl(this.#base));
    } catch (err) {
      this.#emitter.emit('error', new ChatrixError('network', `cannot open ${socketUrl(this.#base)}: ${err?.message ?? err}`));
      this.#reconnectLater();
      return;
    }
    this.#socket = ws;
    let reached = false;
    this.#authenticateTimer = setTimeout(() => this.#dropped(ws, reached, 'no answer to the token'), AUTHENTICATE_TIMEOUT_MS);
    ws.addEventListener('open', () => {
      reached = true;
      if (this.#socket === ws) ws.send(JSON.stringify({ token: this.#token, acks: this.#options.acks }));
    });
    ws.addEventListener('message', (event) => {
      if (this.#socket === ws && typeof event.data === 'string') this.#onFrame(event.data);
    });
    ws.addEventListener('close', (event) => this.#dropped(ws, reached, event.reason || `close code ${event.code}`));
    // Browsers follow 'error' with 'close', but Node 20's WebSocket reports a connection that
    // fails before opening with 'error' alone: either one ends the socket.
    ws.addEventListener('error', () => this.#dropped(ws, reached, 'connection failed'));
  }

  /**
   * The socket closed, failed or never answered: try again unless the session is over. A
   * server that was `reached` explains a refusal itself (ERR, reported as such); one that was
   * not is reported here as a `network` error.
   */
  #dropped(ws, reached, why) {
    if (this.#socket !== ws) return;
    this.#socket = null;
    clearTimeout(this.#authenticateTimer);
    if (ws.readyState !== SOCKET_CLOSED) ws.close();
    this.#searches.markAllUnsent();
    this.#histories.markAllUnsent();
    if (this.#state === 'closed') return;
    if (!reached) this.#emitter.emit('error', new ChatrixError('network', `cannot connect to ${socketUrl(this.#base)}: ${why}`));
    this.#reconnectLater();
  }

  #reconnectLater() {
    this.#failures += 1;
    const backoff = reconnectDelay(this.#failures, this.#options.reconnectDelayMs, this.#options.maxReconnectDelayMs);
    const delay = Math.max(backoff, this.#serverRetryAfterMs);
    this.#serverRetryAfterMs = 0;
    this.#setState('reconnecting');
    this.#reconnectTimer = setTimeout(() => this.#openSocket(), delay);
  }

  // A browser that is back online tries at once instead of sitting out the backoff, which
  // may have grown to maxReconnectDelayMs while the network was gone.
  #retryNow = () => {
    if (this.#state !== 'reconnecting' || this.#socket) return;
    clearTimeout(this.#reconnectTimer);
    this.#openSocket();
  };

  /** PROFILE_INFO: the token was taken. Everything waiting goes out before anyone hears 'open'. */
  #authenticated(profile) {
    clearTimeout(this.#authenticateTimer);
    this.#user = toUser(profile);
    this.#failures = 0;
    for (const frame of this.#outbox.frames()) this.#transmit(frame);
    for (const frame of this.#reads.splice(0)) this.#transmit(frame);
    this.#transmitRequests();
    const connecting = this.#connecting;
    this.#connecting = null;
    this.#setState('open');
    this.#emitter.emit('profile', this.#user);
    connecting?.resolve(this.#user);
  }

  /**
   * Ends the session for good: nothing is retried, everything waiting is refused with `error`.
   * 'closed' is announced last, so a listener may connect() again without its new connect()
   * or sends being refused too.
   */
  #shutDown(error) {
    globalThis.removeEventListener?.('online', this.#retryNow);
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#authenticateTimer);
    const ws = this.#socket;
    this.#socket = null;
    if (ws && ws.readyState !== SOCKET_CLOSED) ws.close(1000);
    this.#reads = [];
    const connecting = this.#connecting;
    this.#connecting = null;
    connecting?.reject(error);
    this.#outbox.rejectAll(error);
    this.#searches.rejectAll(error);
    this.#histories.rejectAll(error);
    this.#setState('closed');
  }

  #transmit(frame) {
    if (!this.#socket || this.#socket.readyState !== SOCKET_OPEN) return false;
    this.#socket.send(frame);
    return true;
  }

  #transmitRequests() {
    for (const frame of this.#searches.unsent()) this.#transmit(frame);
    for (const frame of this.#histories.unsent()) this.#transmit(frame);
  }

  // ---- frames from the server ----

  #onFrame(text) {
    const frame = decodeFrame(text);
    if (!frame) return;
    try {
      this.#handle(frame.type, frame.body);
    } catch (err) {
      // A body not of the promised shape: reported, and the session goes on with the next frame.
      this.#emitter.emit('error', new ChatrixError('bad_response', `a malformed frame of type ${frame.type}: ${err?.message ?? err}`));
    }
  }

  #handle(type, body) {
    switch (type) {
      case EventType.PROFILE_INFO:
        this.#authenticated(body);
        break;
      case EventType.CHATPREVIEWS:
        this.#previews = toPreviews(body);
        this.#emitter.emit('previews', this.#previews);
        break;
      case EventType.TEXT:
        this.#onMessage(toMessage(body, false));
        if (this.#options.acks) this.#transmit(encodeFrame(EventType.ACK, { message_ids: [body.msg_id] }));
        break;
      case EventType.SENT:
        this.#onMessage(toMessage(body, true));
        break;
      case EventType.DELIVERED: {
        const delivered = toDelivered(body);
        this.#emitter.emit('delivered', delivered);
        this.#outbox.take(delivered.mark)?.resolve(delivered);
        break;
      }
      case EventType.RECEIVED:
        this.#emitter.emit('received', toReceived(body));
        break;
      case EventType.MARK_READ:
        this.#emitter.emit('read', { messageIds: Array.isArray(body) ? body : [] });
        break;
      case EventType.SEARCH_RESPONSE:
        this.#searches.resolveOldest(body);
        break;
      case EventType.HISTORY_RESPONSE:
        this.#histories.resolveOldest(body);
        break;
      case EventType.ERR:
        this.#onError(errorFromFrame(body));
        break;
      default:
        break;  // a newer server's event: ignored, as the protocol allows
    }
  }

  #onMessage(message) {
    if (this.#seen.add(message.id)) this.#emitter.emit('message', message);
  }

  #onError(error) {
    // Without ref_type, `unauthorized` is about the token itself (refused, expired, revoked):
    // the server closes with 1008 and retrying with that token can never succeed.
    if (error.code === 'unauthorized' && error.refType === undefined) {
      this.#token = null;
      this.#user = null;
      this.#shutDown(error);
      this.#emitter.emit('signedOut', error);
      return;
    }
    if (error.refType === EventType.TEXT && error.mark !== undefined) {
      const entry = this.#outbox.take(error.mark);
      if (entry) return entry.reject(error);
    }
    if (error.refType === EventType.SEARCH_REQUEST && this.#searches.rejectOldest(error)) return;
    if (error.refType === EventType.HISTORY_REQUEST && this.#histories.rejectOldest(error)) return;
    // About the connection (a flood of refused TEXTs, before its close): wait as asked.
    if (error.refType === undefined && error.retryAfterMs) this.#serverRetryAfterMs = error.retryAfterMs;
    this.#emitter.emit('error', error);
  }

  // ---- requests ----

  send(to, content, options = {}) {
    const mark = options.mark ?? `${this.#markPrefix}.${++this.#markCount}`;
    let promise;
    try {
      if (!isMark(mark)) throw new ChatrixError('invalid_field', 'a mark is a finite number or a string');
      if (this.#state === 'closed') throw new ChatrixError('closed', 'the client is closed: connect() again first', { mark });
      const frame = encodeFrame(EventType.TEXT, { ...recipientFields(to), content, mark });
      promise = this.#outbox.add(mark, frame);
      if (this.#state === 'open') this.#transmit(frame);
    } catch (err) {
      promise = Promise.reject(err);
    }
    return Object.assign(promise, { mark });
  }

  markRead(from, messageIds) {
    if (this.#state === 'closed') return;
    const to = typeof from === 'string' ? from : from?.username;
    for (let i = 0; i < messageIds.length; i += MAX_IDS_PER_READ) {
      const body = { message_ids: messageIds.slice(i, i + MAX_IDS_PER_READ) };
      if (to) body.to = to;
      const frame = encodeFrame(EventType.MARK_READ, body);
      if (this.#state === 'open' && this.#transmit(frame)) continue;
      this.#reads.push(frame);
      if (this.#reads.length > MAX_QUEUED_READS) this.#reads.shift();
    }
  }

  search(fragment, options = {}) {
    const body = { username: fragment };
    if (options.limit !== undefined) body.limit = options.limit;
    const answer = (rows) => (Array.isArray(rows) ? rows.map(toUser) : []);
    return this.#request(this.#searches, () => encodeFrame(EventType.SEARCH_REQUEST, body), answer);
  }

  history(other, options = {}) {
    const peer = typeof other === 'number' ? { id: other } : other;
    if (!Number.isInteger(peer?.id)) {
      return Promise.reject(new ChatrixError('invalid_field', 'history() needs the other user\'s id (a number or a User)'));
    }
    const frame = () => {
      const body = { user1_id: this.#user.id, user2_id: peer.id };
      if (options.beforeId !== undefined) body.before_id = options.beforeId;
      if (options.limit !== undefined) body.limit = options.limit;
      return encodeFrame(EventType.HISTORY_REQUEST, body);
    };
    return this.#request(this.#histories, frame, (rows) => toHistory(rows, this.#user, peer));
  }

  #request(queue, frame, answer) {
    if (this.#state === 'closed') return Promise.reject(new ChatrixError('closed', 'the client is closed: connect() again first'));
    const result = queue.add(frame, answer);
    if (this.#state === 'open') this.#transmitRequests();
    return result;
  }
}

function isMark(mark) {
  return typeof mark === 'string' || (typeof mark === 'number' && Number.isFinite(mark));
}

/** TEXT's recipient fields: a username, an id, or a User (both; the server checks they agree). */
function recipientFields(to) {
  if (typeof to === 'string') return { to };
  if (typeof to === 'number') return { to_id: to };
  if (to && typeof to === 'object') {
    const fields = {};
    if (typeof to.username === 'string') fields.to = to.username;
    if (typeof to.id === 'number') fields.to_id = to.id;
    if (Object.keys(fields).length) return fields;
  }
  throw new ChatrixError('invalid_field', 'the recipient is a username, a user id or a User');
}

// Default marks must not repeat within RETRY_WINDOW for the same recipient and text, across
// page reloads and devices too, or a new message would be taken for a retry: 64 random bits
// per client, then a counter.
function randomMarkPrefix() {
  const bytes = new Uint8Array(8);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
