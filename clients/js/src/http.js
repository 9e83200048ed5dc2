// The HTTP half of the API (docs/protocol.md, HTTP API): base URLs, and JSON POSTs whose
// failures become ChatrixErrors.

import { ChatrixError, errorFromHttp } from './errors.js';

/**
 * The server's base URL without a trailing slash. A path is kept, so a server behind a proxy
 * at https://example.org/chat works.
 */
export function baseUrl(url) {
  const fallback = globalThis.location?.origin;
  const given = url ?? fallback;
  if (!given) throw new ChatrixError('bad_url', 'no server URL: pass options.url (there is no page origin to default to)');
  let parsed;
  try {
    parsed = new URL(given, fallback);
  } catch {
    throw new ChatrixError('bad_url', `not a URL: ${given}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ChatrixError('bad_url', `the server URL must be http: or https:, not ${parsed.protocol}`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, '');
}

/** The WebSocket endpoint of a base URL: http becomes ws, https wss. */
export function socketUrl(base) {
  return base.replace(/^http/, 'ws') + '/ws';
}

/**
 * POSTs `body` (or nothing) as JSON; resolves with the parsed answer.
 * @param {typeof fetch} fetchFn
 * @param {string} url
 * @param {{body?: object, token?: string}} request
 */
export async function postJson(fetchFn, url, { body, token }) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  let text;
  try {
    response = await fetchFn(url, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
    text = await response.text();
  } catch (err) {
    throw new ChatrixError('network', `cannot reach ${url}: ${err?.message ?? err}`);
  }
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's error page, say; the status decides below.
  }
  if (!response.ok) throw errorFromHttp(response.status, data, response.headers.get('Retry-After'));
  if (data === null || typeof data !== 'object') {
    throw new ChatrixError('bad_response', `${url} answered ${response.status} without a JSON object`, { status: response.status });
  }
  return data;
}
