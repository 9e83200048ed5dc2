// A stand-in for the server, in memory, for tests of the client's own logic (timers, event
// shapes, the HTTP calls it makes) that the real server cannot drive fast or exactly: a
// WebSocket class and a fetch to pass as options. The socket answers the token with
// PROFILE_INFO, the previews given and SYNCED; everything the client sends is kept, parsed.

const OPEN = 1;
const CLOSED = 3;

export class FakeServer {
  /** Frames the client sent, `{type, body}` (the token frame as `{type: 'auth', body}`). */
  sent = [];
  /** HTTP requests the client made: `{method, path, body, authorization}`. */
  requests = [];
  sockets = [];
  #routes = new Map();

  constructor({ profile = { id: 1, username: 'ann', name: 'Ann' }, previews = null } = {}) {
    this.profile = profile;
    this.previews = previews;
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url) {
        super(url, server);
      }
    };
    this.fetch = (url, init = {}) => this.#answer(url, init);
  }

  /** The frames of `type` the client sent, their bodies. */
  bodiesOf(type) {
    return this.sent.filter((frame) => frame.type === type).map((frame) => frame.body);
  }

  /** The open socket of the client. */
  get socket() {
    return this.sockets.findLast((socket) => socket.readyState === OPEN);
  }

  /** Sends the client a frame on its open socket. */
  push(type, body) {
    this.socket.deliver({ type, body });
  }

  /** Drops the open socket as a network failure would (no close frame from the client). */
  drop() {
    this.socket.closeFromServer(1006);
  }

  /** `handler({body, path})` answers `METHOD path` with `{status, body}` (body: an object, or none). */
  route(method, path, handler) {
    this.#routes.set(`${method} ${path}`, handler);
  }

  async #answer(url, init) {
    const { pathname } = new URL(url);
    const body = init.body === undefined ? undefined : JSON.parse(init.body);
    this.requests.push({ method: init.method, path: pathname, body, authorization: init.headers?.Authorization });
    const handler = this.#routes.get(`${init.method} ${pathname}`);
    const answer = handler ? handler({ body, path: pathname }) : { status: 404, body: { error: 'no route', code: 'not_found' } };
    const text = answer.body === undefined ? null : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status, headers: text === null ? {} : { 'Content-Type': 'application/json' } });
  }
}

class FakeSocket extends EventTarget {
  readyState = 0;
  #server;

  constructor(url, server) {
    super();
    this.url = url;
    this.#server = server;
    server.sockets.push(this);
    queueMicrotask(() => {
      this.readyState = OPEN;
      this.dispatchEvent(new Event('open'));
    });
  }

  send(text) {
    if (this.readyState !== OPEN) throw new Error('send on a socket that is not open');
    const frame = JSON.parse(text);
    if (frame.token !== undefined) {
      this.#server.sent.push({ type: 'auth', body: frame });
      this.deliver({ type: 4, body: this.#server.profile });
      this.deliver({ type: 5, body: this.#server.previews });
      this.deliver({ type: 13, body: { pos: 0 } });
      return;
    }
    this.#server.sent.push(frame);
  }

  /** A frame from the server, in a microtask as a real socket's would come. */
  deliver(frame) {
    queueMicrotask(() => {
      if (this.readyState === OPEN) this.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(frame) }));
    });
  }

  close() {
    this.closeFromServer(1000);
  }

  closeFromServer(code) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    queueMicrotask(() => this.dispatchEvent(Object.assign(new Event('close'), { code, reason: '' })));
  }
}

/** Lets the microtasks queued so far (frames in flight, their handlers) run. */
export async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
