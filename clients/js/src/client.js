// ChatrixClient: accounts, files, blocks, the profile and push devices over HTTP, and one
// WebSocket session kept open across drops. The connection's life is the `state` field,
// changed only in #setState; everything waiting on the server (sends, edits, deletes,
// searches, history and previews requests, read marks) waits in a bounded queue and is sent
// again on each new connection until the server answers it. Each connection resumes the
// user's event stream from this device's position (stream-position.js). Typing indicators
// and presence are live only (typing.js, presence.js).

import { Emitter } from './emitter.js';
import { ChatrixError, errorFromFrame } from './errors.js';
import { baseUrl, getJson, getResponse, postBytes, postJson, sendJson, socketUrl } from './http.js';
import { reconnectDelay } from './backoff.js';
import { Outbox } from './outbox.js';
import { PendingChanges } from './changes.js';
import { RequestQueue } from './requests.js';
import { RecentIds } from './recent-ids.js';
import { PresenceTable } from './presence.js';
import { TypingPeople, TypingRefresh } from './typing.js';
import { StreamPosition, defaultStorage, positionKey } from './stream-position.js';
import {
  EventType, decodeFrame, encodeFrame, toBlock, toDelivered, toDeleted, toEdited, toFile, toHistory, toMessage,
  toPresence, toPreviews, toProfile, toPushDevice, toReadState, toReceived, toTyping, toUser,
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
// ACKs repeated on the next connection: an ACK sent as a connection dropped may be lost, and a
// device that resumes with `since` is not sent that message again (it had it), so its sender
// would never hear RECEIVED. Repeating the latest is harmless (a receipt counts once), and
// the ones in flight at a drop are the latest.
const MAX_REPEATED_ACKS = 256;
// The server takes at most 1000 ids per MARK_READ and 100 per DELETE (docs/protocol.md).
const MAX_IDS_PER_READ = 1000;
const MAX_IDS_PER_DELETE = 100;
const SOCKET_OPEN = 1;
const BARRIER_FRAME = encodeFrame(EventType.SEARCH_REQUEST, { username: '' });
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
  #changes;
  #searches;
  #histories;
  #previewPages;
  #reads = [];
  #position;
  // Per connection: the CHATPREVIEWS that follows PROFILE_INFO is the session's own, later
  // ones answer previews(); edits and deletes wait for SYNCED.
  #connectPreviewsDue = false;
  #inStep = false;
  #seen = new RecentIds();
  #acked = [];  // ids confirmed on this connection, the latest MAX_REPEATED_ACKS
  #markPrefix = randomMarkPrefix();
  #markCount = 0;
  #typing = new TypingRefresh((recipient, typing) => this.#transmit(encodeFrame(EventType.TYPING, { ...recipient, typing })));
  #typingPeople = new TypingPeople();
  #presence = new PresenceTable();

  /** @param {import('./index.js').ClientOptions} [options] */
  constructor(options = {}) {
    this.#options = { ...DEFAULTS, ...withoutUndefined(options) };
    this.#base = baseUrl(options.url);
    this.#token = options.token ?? null;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    // fetch must be called with the global as `this` in browsers, not the client.
    this.#fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.#outbox = new Outbox(this.#options.maxPendingSends);
    this.#changes = new PendingChanges(this.#options.maxPendingRequests);
    this.#searches = new RequestQueue(this.#options.maxPendingRequests, 'search');
    this.#histories = new RequestQueue(this.#options.maxPendingRequests, 'history');
    this.#previewPages = new RequestQueue(this.#options.maxPendingRequests, 'previews');
    this.#position = new StreamPosition(options.storage === undefined ? defaultStorage() : options.storage);
  }

  get state() { return this.#state; }
  get user() { return this.#user; }
  get token() { return this.#token; }
  /** The previews of the latest connect (previews() asks for a page at any time). */
  get latestPreviews() { return this.#previews; }
  /** The stream position this device has every event up to (sent as `since`), or null. */
  get syncPosition() { return this.#position.value; }

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
    this.#connectPreviewsDue = false;
    this.#inStep = false;
    let reached = false;
    this.#authenticateTimer = setTimeout(() => this.#dropped(ws, reached, 'no answer to the token'), AUTHENTICATE_TIMEOUT_MS);
    ws.addEventListener('open', () => {
      reached = true;
      if (this.#socket === ws) ws.send(JSON.stringify(this.#authFrame()));
    });
    ws.addEventListener('message', (event) => {
      if (this.#socket === ws && typeof event.data === 'string') this.#onFrame(event.data);
    });
    ws.addEventListener('close', (event) => this.#dropped(ws, reached, event.reason || `close code ${event.code}`));
    // Browsers follow 'error' with 'close', but Node 20's WebSocket reports a connection that
    // fails before opening with 'error' alone: either one ends the socket.
    ws.addEventListener('error', () => this.#dropped(ws, reached, 'connection failed'));
  }

  /** The first frame: the token, and where this device is in the stream (read afresh for each token's user). */
  #authFrame() {
    this.#position.use(positionKey(this.#base, this.#token));
    const frame = { token: this.#token, acks: this.#options.acks };
    if (this.#position.value !== null) frame.since = this.#position.value;
    return frame;
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
    this.#changes.dropped();
    this.#endTyping();
    this.#searches.markAllUnsent();
    this.#histories.markAllUnsent();
    this.#previewPages.markAllUnsent();
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
    this.#connectPreviewsDue = true;
    for (const frame of this.#outbox.frames()) this.#transmit(frame);
    for (const frame of this.#reads.splice(0)) this.#transmit(frame);
    const ackedBefore = this.#acked.splice(0);
    if (ackedBefore.length) this.#transmit(encodeFrame(EventType.ACK, { message_ids: ackedBefore }));
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
    this.#endTyping();
    // The next session may be another account's: what was heard of this one's partners goes.
    this.#presence.clear();
    const connecting = this.#connecting;
    this.#connecting = null;
    connecting?.reject(error);
    this.#outbox.rejectAll(error);
    this.#changes.rejectAll(error);
    this.#searches.rejectAll(error);
    this.#histories.rejectAll(error);
    this.#previewPages.rejectAll(error);
    this.#setState('closed');
  }

  /** The server clears a dropped device's indicators: stop repeating ours, end the ones shown. */
  #endTyping() {
    this.#typing.stopAll();
    for (const ended of this.#typingPeople.clear()) this.#emitter.emit('typing', ended);
  }

  #transmit(frame) {
    if (!this.#socket || this.#socket.readyState !== SOCKET_OPEN) return false;
    this.#socket.send(frame);
    return true;
  }

  #transmitRequests() {
    for (const frame of this.#searches.unsent()) this.#transmit(frame);
    for (const frame of this.#histories.unsent()) this.#transmit(frame);
    for (const frame of this.#previewPages.unsent()) this.#transmit(frame);
  }

  // Each change is followed by its barrier, an empty search (answered at once, in order with
  // the change's refusal if any: changes.js).
  #transmitChanges() {
    if (!this.#inStep) return;
    for (const change of this.#changes.takeWaiting()) {
      this.#transmit(change.frame);
      this.#searches.addBarrier(BARRIER_FRAME, () => this.#changes.reached(change));
      this.#transmitRequests();
    }
  }

  // ---- frames from the server ----

  #onFrame(text) {
    const frame = decodeFrame(text);
    if (!frame) return;
    const { type, body, pos } = frame;
    // An event this device had before the last drop, sent again to fill a gap below it: it
    // is not reported twice, but a TEXT is confirmed again (its first ACK may be the one lost).
    if (pos !== null && this.#position.had(pos)) {
      if (type === EventType.TEXT) this.#acknowledge(body);
      return;
    }
    try {
      this.#handle(type, body);
    } catch (err) {
      // A body not of the promised shape: reported, and the session goes on with the next frame.
      this.#emitter.emit('error', new ChatrixError('bad_response', `a malformed frame of type ${type}: ${err?.message ?? err}`));
    }
    // Recorded once the listeners had it: a position kept in storage is one the app has seen.
    if (pos !== null) this.#position.record(pos);
  }

  #handle(type, body) {
    switch (type) {
      case EventType.PROFILE_INFO:
        this.#authenticated(body);
        break;
      case EventType.CHATPREVIEWS:
        if (!this.#connectPreviewsDue) {
          this.#previewPages.resolveOldest(body);
          break;
        }
        this.#connectPreviewsDue = false;
        this.#previews = toPreviews(body);
        this.#presence.fromPreviews(this.#previews);
        this.#emitter.emit('previews', this.#previews);
        break;
      case EventType.TEXT: {
        const message = toMessage(body, false);
        const typingEnded = this.#typingPeople.messageFrom(message.fromId, message.chatId);
        if (typingEnded) this.#emitter.emit('typing', typingEnded);
        this.#onMessage(message);
        this.#acknowledge(body);
        break;
      }
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
      case EventType.READ_STATE:
        this.#emitter.emit('readState', toReadState(body));
        break;
      case EventType.EDIT: {
        const edited = toEdited(body);
        this.#emitter.emit('edited', edited);
        this.#changes.settle('edit', [edited.messageId]);
        break;
      }
      case EventType.DELETE: {
        const deleted = toDeleted(body);
        this.#emitter.emit('deleted', deleted);
        this.#changes.settle('delete', deleted.messageIds);
        break;
      }
      case EventType.SYNCED:
        this.#onSynced(body);
        break;
      case EventType.TYPING: {
        const typing = toTyping(body);
        this.#typingPeople.heard(typing);
        this.#emitter.emit('typing', typing);
        break;
      }
      case EventType.PRESENCE: {
        const presence = toPresence(body);
        this.#presence.set(presence.userId, presence.online, presence.lastSeen);
        this.#emitter.emit('presence', presence);
        break;
      }
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

  #acknowledge(body) {
    if (!this.#options.acks || !Number.isInteger(body?.msg_id)) return;
    this.#transmit(encodeFrame(EventType.ACK, { message_ids: [body.msg_id] }));
    this.#acked.push(body.msg_id);
    if (this.#acked.length > MAX_REPEATED_ACKS) this.#acked.shift();
  }

  /** SYNCED: this device has every event up to `pos`; what waited for that goes out now. */
  #onSynced(body) {
    const pos = typeof body?.pos === 'string' ? Number(body.pos) : body?.pos;
    if (!Number.isSafeInteger(pos) || pos < 0) throw new TypeError('SYNCED without a position');
    this.#position.synced(pos);
    this.#inStep = true;
    this.#emitter.emit('synced', { pos });
    this.#transmitChanges();
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
    // The position was older than the server keeps, or one it never issued: the session goes
    // on as a new device's would (pending messages, then SYNCED), and the app reloads its view.
    if (error.code === 'sync_expired') {
      this.#position.clear();
      this.#emitter.emit('syncExpired', error);
      return;
    }
    if (error.refType === EventType.SEARCH_REQUEST && this.#searches.rejectOldest(error)) return;
    if (error.refType === EventType.HISTORY_REQUEST && this.#histories.rejectOldest(error)) return;
    if (error.refType === EventType.CHATPREVIEWS && this.#previewPages.rejectOldest(error)) return;
    if (error.refType === EventType.EDIT && this.#changes.refuse('edit', error)) return;
    if (error.refType === EventType.DELETE && this.#changes.refuse('delete', error)) return;
    // A refused TYPING names no recipient: repeating any indicator could only be refused again
    // (blocked, unknown_recipient), except when it came too fast.
    if (error.refType === EventType.TYPING && error.code !== 'rate_limited') this.#typing.stopAll();
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
      const recipient = recipientFields(to);
      const frame = encodeFrame(EventType.TEXT, { ...recipient, content, mark, ...messageExtras(options) });
      promise = this.#outbox.add(mark, frame);
      this.#typing.sentTo(recipient);
      if (this.#state === 'open') this.#transmit(frame);
    } catch (err) {
      promise = Promise.reject(err);
    }
    return Object.assign(promise, { mark });
  }

  /**
   * Tells `to` (a username, an id or a User) that this user is typing, or stopped. While true
   * the client repeats it every 4 s until setTyping(to, false), a send to `to`, or a drop. Not
   * queued: while disconnected it does nothing (the other side sees no indicator then anyway).
   */
  setTyping(to, typing) {
    if (typeof typing !== 'boolean') throw new ChatrixError('invalid_field', 'setTyping() takes true or false');
    const recipient = recipientFields(to);
    if (this.#state !== 'open') return;
    if (typing) this.#typing.start(recipient);
    else this.#typing.stop(recipient);
  }

  /** What this client last heard of `userId`'s presence (previews, `presence` events), or undefined. */
  presenceOf(userId) {
    return this.#presence.of(userId);
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

  /**
   * A page of previews (CHATPREVIEWS on request), most recent conversation first; pass the last
   * row's `cursor` as `before` for the next page.
   */
  previews(options = {}) {
    const body = {};
    if (options.before !== undefined) body.before = options.before;
    if (options.limit !== undefined) body.limit = options.limit;
    return this.#request(this.#previewPages, () => encodeFrame(EventType.CHATPREVIEWS, body), (rows) => this.#withPresence(toPreviews(rows)));
  }

  /**
   * Changes the content of a message of yours; resolves once the server applied it. The
   * `edited` event brings the change to every device of both people, this one included.
   */
  edit(messageId, content) {
    if (!Number.isInteger(messageId)) return Promise.reject(new ChatrixError('invalid_field', 'edit() needs a message id'));
    if (typeof content !== 'string') return Promise.reject(new ChatrixError('invalid_field', 'the new content is a string'));
    return this.#change('edit', [messageId], encodeFrame(EventType.EDIT, { message_id: messageId, content }));
  }

  /**
   * Deletes messages of yours (of one conversation) for everyone; resolves once the server
   * applied it (also when they were deleted already). The `deleted` event follows everywhere.
   */
  delete(messageIds) {
    const ids = Array.isArray(messageIds) ? messageIds : [messageIds];
    if (!ids.length || ids.length > MAX_IDS_PER_DELETE || !ids.every(Number.isInteger)) {
      return Promise.reject(new ChatrixError('invalid_field', `delete() takes 1 to ${MAX_IDS_PER_DELETE} message ids`));
    }
    return this.#change('delete', ids, encodeFrame(EventType.DELETE, { message_ids: ids }));
  }

  #change(kind, ids, frame) {
    if (this.#state === 'closed') return Promise.reject(new ChatrixError('closed', 'the client is closed: connect() again first'));
    const result = this.#changes.add(kind, ids, frame);
    if (this.#state === 'open') this.#transmitChanges();
    return result;
  }

  // ---- HTTP: files, conversations, the profile ----

  /**
   * Uploads a file (a File, a Blob or bytes) for sending as an attachment; resolves with
   * `{id, name, type, size}`. The name and type default to the File's own.
   */
  async uploadFile(file, options = {}) {
    const token = this.#requireToken('uploadFile()');
    const name = options.name ?? file?.name;
    if (typeof name !== 'string' || !name) throw new ChatrixError('invalid_field', 'uploadFile() needs a file name: pass options.name');
    const type = options.type || file?.type || 'application/octet-stream';
    const answer = await postBytes(this.#fetch, `${this.#base}/v1/files?name=${encodeURIComponent(name)}`, { bytes: file, type, token });
    const uploaded = toFile(answer);
    if (!uploaded) throw new ChatrixError('bad_response', 'the upload was answered without a file id');
    return uploaded;
  }

  /** Where a file is served. Fetching it needs the token (`Authorization: Bearer`): see downloadFile(). */
  fileUrl(id) {
    return `${this.#base}/v1/files/${encodeURIComponent(id)}`;
  }

  /** A file you may read (yours, or sent in one of your conversations), as a File with its name and type. */
  async downloadFile(id) {
    const token = this.#requireToken('downloadFile()');
    const response = await getResponse(this.#fetch, this.fileUrl(id), token);
    let blob;
    try {
      blob = await response.blob();
    } catch (err) {
      throw new ChatrixError('network', `the download of ${id} broke off: ${err?.message ?? err}`);
    }
    const type = response.headers.get('Content-Type') ?? blob.type;
    return new File([blob], fileNameOf(response.headers.get('Content-Disposition')) ?? id, { type });
  }

  /** Your conversations over HTTP (GET /v1/conversations): `{conversations, next}`; pass `next` as `before`. */
  async conversations(options = {}) {
    const token = this.#requireToken('conversations()');
    const query = new URLSearchParams();
    if (options.before !== undefined && options.before !== null) query.set('before', options.before);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const suffix = query.toString() ? `?${query}` : '';
    const answer = await getJson(this.#fetch, `${this.#base}/v1/conversations${suffix}`, token);
    const conversations = this.#withPresence(toPreviews(answer.conversations));
    return { conversations, next: typeof answer.next === 'string' ? answer.next : null };
  }

  #withPresence(previews) {
    this.#presence.fromPreviews(previews);
    return previews;
  }

  /** Your profile over HTTP (GET /v1/me), with `showPresence`. */
  async me() {
    return toProfile(await getJson(this.#fetch, `${this.#base}/v1/me`, this.#requireToken('me()')));
  }

  /**
   * Changes your display name and/or whether others see you online and your last seen
   * (PATCH /v1/me); resolves with the profile as changed.
   */
  async updateMe(changes = {}) {
    const token = this.#requireToken('updateMe()');
    const body = {};
    if (changes.name !== undefined) body.name = changes.name;
    if (changes.showPresence !== undefined) body.show_presence = changes.showPresence;
    if (!Object.keys(body).length) throw new ChatrixError('invalid_field', 'updateMe() needs a name or showPresence');
    const profile = toProfile(await sendJson(this.#fetch, `${this.#base}/v1/me`, { method: 'PATCH', body, token }));
    if (this.#user?.id === profile.id) this.#user = toUser(profile);
    return profile;
  }

  /** Everything the server keeps of your account (GET /v1/me/export), as the parsed JSON document. */
  async exportAccount() {
    return getJson(this.#fetch, `${this.#base}/v1/me/export`, this.#requireToken('exportAccount()'));
  }

  /**
   * Deletes your account for good (DELETE /v1/me, confirmed with the password). The server
   * revokes every token; this client closes, and `signedOut` follows with `account_deleted`.
   */
  async deleteAccount(password) {
    const token = this.#requireToken('deleteAccount()');
    await sendJson(this.#fetch, `${this.#base}/v1/me`, { method: 'DELETE', body: { password }, token });
    // The server may have closed the socket first (the token is revoked): then that was the end.
    if (this.#token !== token) return;
    const ended = new ChatrixError('account_deleted', 'the account was deleted');
    this.#token = null;
    this.#user = null;
    this.#shutDown(ended);
    this.#emitter.emit('signedOut', ended);
  }

  // ---- HTTP: blocking ----

  /** Blocks `username` (POST /v1/blocks): resolves with the blocked User and `blockedAt` (Unix ms). */
  async block(username) {
    const token = this.#requireToken('block()');
    return toBlock(await sendJson(this.#fetch, `${this.#base}/v1/blocks`, { method: 'POST', body: { username }, token }));
  }

  /** Unblocks `username` (DELETE /v1/blocks/<username>); `not_found` when not blocked. */
  async unblock(username) {
    const token = this.#requireToken('unblock()');
    await sendJson(this.#fetch, `${this.#base}/v1/blocks/${encodeURIComponent(username)}`, { method: 'DELETE', token });
  }

  /** The users you blocked (GET /v1/blocks), most recent first. */
  async blocks() {
    const answer = await getJson(this.#fetch, `${this.#base}/v1/blocks`, this.#requireToken('blocks()'));
    return Array.isArray(answer.blocks) ? answer.blocks.map(toBlock) : [];
  }

  // ---- HTTP: push devices ----

  /** Registers a push token of this device (POST /v1/devices): `{platform, token, createdAt}`. */
  async registerPushDevice(platform, pushToken) {
    const token = this.#requireToken('registerPushDevice()');
    const body = { platform, token: pushToken };
    return toPushDevice(await sendJson(this.#fetch, `${this.#base}/v1/devices`, { method: 'POST', body, token }));
  }

  /** Unregisters a push token (DELETE /v1/devices); `not_found` when it is not registered. */
  async unregisterPushDevice(platform, pushToken) {
    const token = this.#requireToken('unregisterPushDevice()');
    await sendJson(this.#fetch, `${this.#base}/v1/devices`, { method: 'DELETE', body: { platform, token: pushToken }, token });
  }

  /** The push tokens registered for your account (GET /v1/devices). */
  async pushDevices() {
    const answer = await getJson(this.#fetch, `${this.#base}/v1/devices`, this.#requireToken('pushDevices()'));
    return Array.isArray(answer.devices) ? answer.devices.map(toPushDevice) : [];
  }

  #requireToken(what) {
    if (!this.#token) throw new ChatrixError('not_signed_in', `${what} needs a token: log in first`);
    return this.#token;
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

/** TEXT's optional fields: the message answered, the file sent (an id or an uploaded file). */
function messageExtras(options) {
  const extras = {};
  if (options.replyTo !== undefined) extras.reply_to = options.replyTo;
  const attachment = typeof options.attachment === 'object' ? options.attachment?.id : options.attachment;
  if (attachment !== undefined) extras.attachment = attachment;
  return extras;
}

/** The file name of a Content-Disposition header: filename* (RFC 5987, UTF-8) or else filename. */
function fileNameOf(header) {
  if (!header) return null;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Not percent-encoding after all: try the plain parameter.
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(header);
  return plain ? (plain[1] ?? plain[2].trim()) : null;
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
