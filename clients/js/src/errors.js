// ChatrixError: every failure the SDK reports, with the server's stable `code` to match on.

/**
 * Codes the SDK adds to the server's own (docs/protocol.md, Errors and HTTP errors):
 * - `network`: the server could not be reached;
 * - `bad_url`: options.url is missing (outside a browser) or not http(s);
 * - `bad_response`: an answer that is not the JSON the protocol promises;
 * - `closed`: close() or logout() ended what was pending;
 * - `logged_out`: logout() ended the session (the `signedOut` event);
 * - `account_deleted`: deleteAccount() ended the session (the `signedOut` event);
 * - `not_signed_in`: connect() or logout() without a token;
 * - `queue_full`: too many sends or requests are waiting already;
 * - `mark_in_use`: send() with a mark that a pending send already has.
 */
export class ChatrixError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{status?: number, retryAfterMs?: number, refType?: number, mark?: number|string}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'ChatrixError';
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.refType !== undefined) this.refType = details.refType;
    if (details.mark !== undefined) this.mark = details.mark;
  }
}

/** The ChatrixError of an ERR frame's body. */
export function errorFromFrame(body) {
  const b = body && typeof body === 'object' ? body : {};
  const code = typeof b.code === 'string' ? b.code : 'internal';
  return new ChatrixError(code, typeof b.error === 'string' ? b.error : code, {
    retryAfterMs: typeof b.retry_after_ms === 'number' ? b.retry_after_ms : undefined,
    refType: typeof b.ref_type === 'number' ? b.ref_type : undefined,
    mark: b.mark ?? undefined,
  });
}

/**
 * The ChatrixError of a failed HTTP answer. A proxy in front may answer 502-504 without the
 * server's JSON body: that is `unavailable` too (retry later), anything else unexplained is
 * `bad_response`.
 * @param {number} status
 * @param {any} body the parsed JSON body (of any shape), or null
 * @param {string|null} retryAfterHeader
 */
export function errorFromHttp(status, body, retryAfterHeader) {
  const b = body && typeof body === 'object' ? body : {};
  let code = typeof b.code === 'string' ? b.code : null;
  if (code === null) code = status >= 502 && status <= 504 ? 'unavailable' : 'bad_response';
  let retryAfterMs = typeof b.retry_after_ms === 'number' ? b.retry_after_ms : undefined;
  const headerSeconds = Number(retryAfterHeader);
  if (retryAfterMs === undefined && retryAfterHeader && Number.isFinite(headerSeconds)) retryAfterMs = headerSeconds * 1000;
  const message = typeof b.error === 'string' ? b.error : `HTTP ${status}`;
  return new ChatrixError(code, message, { status, retryAfterMs });
}
