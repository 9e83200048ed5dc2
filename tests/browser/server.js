// Runs the real chatrix binary for a test: a temp data dir, a free port (written to a port file),
// the cheapest password hashing, the web client found beside the binary, and the settings a test
// asks for (PRESENCE_GRACE=1s, say). The binary: CHATRIX_BIN
// when set (the sanitizer runs point it at a wrapper that keeps the server's log), else
// CHATRIX_DEFAULT_BIN (ctest's: the build's own), else build/bin/chatrix.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

const START_TIMEOUT_MS = 15_000;
const PORT_POLL_MS = 20;
// Passed on to the server: locale, temp dir and the sanitizers' options (where reports go);
// nothing else of the caller's environment, so a developer's settings cannot change a test.
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"];

const DEFAULT_BINARY = process.env.CHATRIX_BIN || process.env.CHATRIX_DEFAULT_BIN
  || resolve(import.meta.dirname, "../../build/bin/chatrix");

export class ChatrixServer {
  /** `settings`: environment variables for the server, e.g. { PRESENCE_GRACE: "1s" }. */
  constructor(binary = DEFAULT_BINARY, settings = {}) {
    this.binary = resolve(binary);  // the server runs in its temp dir, so never relative
    this.settings = settings;
    this.process = null;
    this.port = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server; `port` 0 picks a free one, a number reuses it (a restart keeps the address). */
  async start(port = 0) {
    this.dir ??= await mkdtemp(join(tmpdir(), "chatrix-browser-"));
    const portFile = join(this.dir, `port-${Date.now()}`);
    const env = { ARGON2_PROFILE: "min", LOG_LEVEL: "warn", ...this.settings };
    for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name];
    // The log is a file, not a pipe: the sanitizer runs' wrapper keeps it by linking it.
    const log = openSync(join(this.dir, "server.log"), "a");
    const child = spawn(this.binary, [
      "--port", `127.0.0.1:${port}`,
      "--port-file", portFile,
      "--data-dir", join(this.dir, "data"),
    ], { cwd: this.dir, env, stdio: ["ignore", log, log] });
    closeSync(log);
    this.process = child;
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => resolveExit({ code, signal }));
      child.once("error", (error) => resolveExit({ error: error.message }));
    });

    // The server writes the port file once it listens (write, then rename): poll for it, and
    // give up at once if the server exits first.
    let exit = null;
    this.exited.then((e) => { exit = e; });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exit) throw new Error(`chatrix exited before listening (${JSON.stringify(exit)}):\n${await this.logTail()}`);
      const text = await readFile(portFile, "utf8").catch(() => "");
      if (/^\d+\s*$/.test(text)) {
        this.port = Number(text.trim());
        return;
      }
      await delay(PORT_POLL_MS);
    }
    child.kill("SIGKILL");
    throw new Error(`chatrix wrote no port file within ${START_TIMEOUT_MS} ms:\n${await this.logTail()}`);
  }

  async logTail() {
    const text = await readFile(join(this.dir, "server.log"), "utf8").catch(() => "");
    return text.slice(-4096);
  }

  /** SIGTERM, as an operator would; the server drains and exits. */
  async stop() {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    await this.exited;
  }

  async dispose() {
    await this.stop();
    if (this.dir && !process.env.CHATRIX_KEEP_TEST_DIR) await rm(this.dir, { recursive: true, force: true });
  }
}
