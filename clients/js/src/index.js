// The Chatrix client SDK: import { ChatrixClient, ChatrixError } from this module.
// Browser-safe ES modules only (the server serves this folder at /sdk/); types in index.d.ts.

export { ChatrixClient } from './client.js';
export { ChatrixError } from './errors.js';
export { EventType } from './wire.js';
