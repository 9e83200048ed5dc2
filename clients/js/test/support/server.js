// Starts the real chatrix binary for a test file: port 0 with a port file, a temp data dir, a
// fixed JWT secret (so a restart on the same data dir keeps every token valid), the fastest
// password hashing, and nothing inherited from the developer's environment that would change
// its behaviour. The binary: CHATRIX_BIN when set (the sanitizer runs point it at a wrapper
// that keeps the server's log), else CHATRIX_DEFAULT_BIN (ctest's, the build's own), else
// build/bin/chatrix.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const binary = path.resolve(
  process.env.CHATRIX_BIN || process.env.CHATRIX_DEFAULT_BIN || path.join(repositoryRoot, 'build/bin/chatrix'));
// Passed on to the server: locale and temp dir, and the sanitizers' options (where reports go).
const inherited = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'TSAN_OPTIONS', 'LSAN_OPTIONS'];
const jwtSecret = 'sdk-tests-secret-0123456789';
const startTimeoutMs = 15_000;
const stopGraceMs = 5_000;

/**
 * A running server. `env` adds settings (e.g. MESSAGE_RATE); stop() and start() again keep the
 * data dir and the port, as a restarted node would; dispose() stops it and removes its files.
 */
export class ChatrixServer {
  #dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatrix-sdk-'));
  #env;
  #child = null;
  port = 0;

  constructor(env = {}) {
    this.#env = env;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const portFile = path.join(this.#dir, 'port');
    fs.rmSync(portFile, { force: true });
    const log = fs.openSync(path.join(this.#dir, 'server.log'), 'a');
    const env = { ...this.#env };
    for (const name of inherited) if (process.env[name] !== undefined) env[name] ??= process.env[name];
    this.#child = spawn(binary, [
      '--port', `127.0.0.1:${this.port}`,
      '--port-file', portFile,
      '--data-dir', path.join(this.#dir, 'data'),
      '--jwt-secret', jwtSecret,
      '--argon2', 'min',
      '--log-level', 'warn',
      '--web-dir', 'off',
    ], { cwd: this.#dir, env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.port = await this.#waitForPort(portFile);
    return this;
  }

  async stop() {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
    await exited;
    clearTimeout(timer);
  }

  async dispose() {
    await this.stop();
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  logTail() {
    const text = fs.readFileSync(path.join(this.#dir, 'server.log'), 'utf8');
    return text.split('\n').slice(-20).join('\n');
  }

  // The server renames the port file into place once listening, so a directory event
  // announces it whole.
  #waitForPort(portFile) {
    const child = this.#child;
    return new Promise((resolve, reject) => {
      const watcher = fs.watch(this.#dir);
      const finish = (error, port) => {
        watcher.close();
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', onError);
        if (error) reject(error);
        else resolve(port);
      };
      const check = () => {
        let text;
        try {
          text = fs.readFileSync(portFile, 'utf8');
        } catch {
          return;
        }
        const port = Number(text.trim());
        if (Number.isInteger(port) && port > 0) finish(null, port);
      };
      const onExit = (code, signal) => finish(new Error(`chatrix exited (${code ?? signal}) before listening:\n${this.logTail()}`));
      const onError = (error) => finish(new Error(`cannot start ${binary}: ${error.message}`));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new Error(`chatrix wrote no port file within ${startTimeoutMs} ms:\n${this.logTail()}`));
      }, startTimeoutMs);
      watcher.on('change', check);
      child.on('exit', onExit);
      child.on('error', onError);
      check();
    });
  }
}

/** A started server, disposed of when the test file's `after` hook runs. */
export async function startServer(env) {
  const server = new ChatrixServer(env);
  try {
    return await server.start();
  } catch (err) {
    await server.dispose();
    throw err;
  }
}
