// The HTTP half of the API (docs/protocol.md, HTTP API): base URLs, and requests whose failures
// become ChatrixErrors.

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
export function postJson(fetchFn, url, { body, token }) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetchJson(fetchFn, url, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) }, token);
}

/** GETs a JSON answer with the token. */
export function getJson(fetchFn, url, token) {
  return fetchJson(fetchFn, url, { method: 'GET', headers: {} }, token);
}

/**
 * Any method with an optional JSON body and the token; resolves with the parsed answer, or
 * null for 204 No Content (DELETE /v1/blocks/<username>, DELETE /v1/me...).
 * @param {typeof fetch} fetchFn
 * @param {string} url
 * @param {{method: string, body?: object, token: string}} request
 */
export async function sendJson(fetchFn, url, { method, body, token }) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await send(fetchFn, url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return objectOf(response, url);
}

/**
 * POSTs raw bytes (a Blob, a File or a Uint8Array, which fetch streams as they are) with their
 * content type; resolves with the parsed JSON answer.
 */
export function postBytes(fetchFn, url, { bytes, type, token }) {
  return fetchJson(fetchFn, url, { method: 'POST', headers: { 'Content-Type': type }, body: bytes }, token);
}

/** The successful Response of a GET with the token; a failure becomes a ChatrixError. */
export async function getResponse(fetchFn, url, token) {
  const response = await send(fetchFn, url, { method: 'GET', headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw await failure(response);
  return response;
}

async function fetchJson(fetchFn, url, init, token) {
  if (token) init.headers.Authorization = `Bearer ${token}`;
  const response = await send(fetchFn, url, init);
  if (!response.ok) throw await failure(response);
  return objectOf(response, url);
}

async function objectOf(response, url) {
  const data = parseJson(await readText(response, url));
  if (data === null || typeof data !== 'object') {
    throw new ChatrixError('bad_response', `${url} answered ${response.status} without a JSON object`, { status: response.status });
  }
  return data;
}

async function send(fetchFn, url, init) {
  try {
    return await fetchFn(url, init);
  } catch (err) {
    throw new ChatrixError('network', `cannot reach ${url}: ${err?.message ?? err}`);
  }
}

async function readText(response, url) {
  try {
    return await response.text();
  } catch (err) {
    throw new ChatrixError('network', `the answer of ${url} broke off: ${err?.message ?? err}`);
  }
}

async function failure(response) {
  // A body that is not JSON (a proxy's error page, say) leaves the status to decide.
  const data = parseJson(await readText(response, response.url));
  return errorFromHttp(response.status, data, response.headers.get('Retry-After'));
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
