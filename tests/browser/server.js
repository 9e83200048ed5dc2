// Runs the real chatrix binary for a test: a temp data dir, a free port (written to a port file),
// the cheapest password hashing, the web client found beside the binary.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

const START_TIMEOUT_MS = 15_000;
const PORT_POLL_MS = 20;

export class ChatrixServer {
  constructor(binary = process.env.CHATRIX_BIN ?? resolve(import.meta.dirname, "../../build/bin/chatrix")) {
    this.binary = resolve(binary);  // the server runs in its temp dir, so never relative
    this.process = null;
    this.port = 0;
    this.log = "";
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server; `port` 0 picks a free one, a number reuses it (a restart keeps the address). */
  async start(port = 0) {
    this.dir ??= await mkdtemp(join(tmpdir(), "chatrix-browser-"));
    const portFile = join(this.dir, `port-${Date.now()}`);
    const child = spawn(this.binary, [
      "--port", port ? `127.0.0.1:${port}` : "127.0.0.1:0",
      "--port-file", portFile,
      "--data-dir", join(this.dir, "data"),
    ], {
      cwd: this.dir,
      env: { PATH: process.env.PATH, ARGON2_PROFILE: "min", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (chunk) => { this.log = (this.log + chunk).slice(-8192); });
    }
    const exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => resolveExit({ code, signal }));
      child.once("error", (error) => resolveExit({ error: error.message }));
    });
    this.exited = exited;

    // The server writes the port file once it listens (write, then rename): poll for it, and
    // give up at once if the server exits first.
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exit = null;
    exited.then((e) => { exit = e; });
    while (Date.now() < deadline) {
      if (exit) throw new Error(`chatrix exited before listening (${JSON.stringify(exit)}):\n${this.log}`);
      const text = await readFile(portFile, "utf8").catch(() => "");
      if (/^\d+\s*$/.test(text)) {
        this.port = Number(text.trim());
        return;
      }
      await delay(PORT_POLL_MS);
    }
    child.kill("SIGKILL");
    throw new Error(`chatrix wrote no port file within ${START_TIMEOUT_MS} ms:\n${this.log}`);
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
