// Edits, deletes, replies and files in the web client, and a second device of Bob's that catches
// up: the real server, Debian's Chromium, Alice and two devices of Bob's in three browser
// contexts. Screenshots go to CHATRIX_TEST_OUTPUT (kept).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ChatrixServer } from "./server.js";
import { launchChromium, openPerson } from "./browser.js";
import { byTestId, login, message, register } from "./people.js";

const OUTPUT = process.env.CHATRIX_TEST_OUTPUT ?? resolve(import.meta.dirname, "../../build/test-output/browser");
/** Long enough for a loaded machine; every wait ends as soon as its condition holds. */
const WAIT_MS = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const EVENT = { TEXT: 0, CHATPREVIEWS: 5, SYNCED: 13, EDIT: 14, DELETE: 15, READ_STATE: 16 };
/** The server sends the 200 most recent conversations at connect; the list pages on past them. */
const CONNECT_PREVIEWS = 200;

const server = new ChatrixServer();
let browser;
const people = [];

before(async () => {
  await mkdir(OUTPUT, { recursive: true });
  await server.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server.dispose();
});

async function person() {
  const p = await openPerson(browser, server.url, DESKTOP);
  p.page.setDefaultTimeout(WAIT_MS);
  people.push(p);
  return p;
}

/**
 * Every WebSocket frame the page sends and receives, parsed, in order (`list`), and `next(test)`:
 * a promise of the first frame from now on that passes `test`.
 */
function recordFrames(page) {
  const frames = { list: [], waiting: [] };
  const add = (frame) => {
    frames.list.push(frame);
    frames.waiting = frames.waiting.filter(({ test, resolve: found }) => (test(frame) ? (found(frame), false) : true));
  };
  frames.next = (test) => new Promise((found) => frames.waiting.push({ test, resolve: found }));
  page.on("websocket", (ws) => {
    ws.on("framesent", ({ payload }) => add({ sent: true, ...JSON.parse(payload) }));
    ws.on("framereceived", ({ payload }) => add({ sent: false, ...JSON.parse(payload) }));
  });
  return frames;
}

async function send(page, text) {
  await byTestId(page, "composer-input").fill(text);
  await byTestId(page, "composer-input").press("Enter");
}

/** Waits until a message with `text` is stored (it has an id), so it can be edited or answered. */
async function stored(page, text) {
  await page.locator(`[data-testid="message"][data-message-id]`).filter({ hasText: text }).first().waitFor();
}

function openChat(page, username) {
  return byTestId(page, "chat-item").filter({ hasText: username }).click();
}

function unreadCount(page, username) {
  return byTestId(page, "chat-item").filter({ hasText: username }).getByTestId("unread-count");
}

function assertNoPageProblems() {
  for (const p of people) {
    const serious = p.problems.filter((line) => line.startsWith("page error") || /Content Security Policy/i.test(line));
    assert.deepEqual(serious, [], "page errors or CSP refusals");
  }
}

let alice;
let bob;

test("Alice edits, replies, attaches and deletes; Bob sees each as it happens", async () => {
  alice = await person();
  bob = await person();
  await register(alice.page, "alice", "Alice Liddell");
  await register(bob.page, "bob", "Bob Builder");

  await byTestId(alice.page, "search-input").fill("bob");
  await byTestId(alice.page, "search-result").filter({ hasText: "bob" }).click();
  await send(alice.page, "The first draft");
  await stored(alice.page, "The first draft");
  await openChat(bob.page, "alice");
  await message(bob.page, "The first draft").waitFor();

  // Edit with the keyboard: Up arrow in the empty composer opens the last own message inline.
  // Escape cancels (and stays in the conversation); a second go saves with Enter.
  const composer = byTestId(alice.page, "composer-input");
  await composer.focus();
  await composer.press("ArrowUp");
  const editor = byTestId(alice.page, "edit-input");
  assert.equal(await editor.inputValue(), "The first draft");
  await editor.press("Escape");
  await editor.waitFor({ state: "detached" });
  assert.ok(await composer.isVisible(), "Escape cancelled the edit, not the conversation");
  await message(alice.page, "The first draft").hover();
  await message(alice.page, "The first draft").getByTestId("message-edit").click();
  await editor.fill("The final version");
  await editor.press("Enter");
  for (const page of [alice.page, bob.page]) {
    const edited = message(page, "The final version");
    await edited.getByTestId("message-edited").waitFor();
    assert.equal(await message(page, "The first draft").count(), 0, "the old text is gone");
  }

  // Bob replies: the quote names Alice's message; clicking it brings that message into view.
  await message(bob.page, "The final version").hover();
  await message(bob.page, "The final version").getByTestId("message-reply").click();
  await byTestId(bob.page, "reply-bar").filter({ hasText: "The final version" }).waitFor();
  await send(bob.page, "Looks good to me");
  assert.ok(await byTestId(bob.page, "reply-bar").isHidden(), "the reply bar goes with the message sent");
  const reply = message(alice.page, "Looks good to me");
  await reply.waitFor();
  const quote = reply.getByTestId("reply-quote");
  assert.match(await quote.textContent(), /The final version/);
  await quote.click();
  await alice.page.locator(".message--highlight").filter({ hasText: "The final version" }).waitFor();

  // A file through the button: shown at once, then a card Bob downloads with its bytes.
  const notes = "Meeting notes\nline two\n";
  await byTestId(alice.page, "attach-input").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from(notes) });
  const card = byTestId(bob.page, "attachment").filter({ hasText: "notes.txt" });
  await card.waitFor();
  assert.match(await card.textContent(), new RegExp(`${Buffer.byteLength(notes)} bytes`));
  const [download] = await Promise.all([
    bob.page.waitForEvent("download"),
    card.getByTestId("attachment-download").click(),
  ]);
  assert.equal(download.suggestedFilename(), "notes.txt");
  assert.equal(await readFile(await download.path(), "utf8"), notes);
  await byTestId(alice.page, "attachment").filter({ hasText: "notes.txt" }).getByTestId("attachment-download").waitFor();

  // A file dropped on the conversation.
  const dataTransfer = await alice.page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["dropped bytes"], "dropped.bin", { type: "application/octet-stream" }));
    return transfer;
  });
  await alice.page.locator("#conversation-pane").dispatchEvent("dragenter", { dataTransfer });
  await alice.page.locator("#conversation-pane").dispatchEvent("drop", { dataTransfer });
  await byTestId(bob.page, "attachment").filter({ hasText: "dropped.bin" }).waitFor();

  // Delete for everyone, after a confirmation; cancelling first keeps the message.
  await send(alice.page, "Sent by mistake");
  await stored(alice.page, "Sent by mistake");
  await message(bob.page, "Sent by mistake").waitFor();
  const mistake = message(alice.page, "Sent by mistake");
  await mistake.hover();
  await mistake.getByTestId("message-delete").click();
  await byTestId(alice.page, "delete-cancel").click();
  assert.equal(await message(bob.page, "Sent by mistake").count(), 1);
  const id = await mistake.getAttribute("data-message-id");
  await mistake.hover();
  await mistake.getByTestId("message-delete").click();
  await byTestId(alice.page, "delete-confirm").click();
  for (const page of [alice.page, bob.page]) {
    await page.locator(`[data-message-id="${id}"] [data-testid="message-deleted"]`).waitFor();
    assert.equal(await message(page, "Sent by mistake").count(), 0, "the text is gone on both sides");
  }

  await alice.page.screenshot({ path: join(OUTPUT, "edit-reply-file-delete.png") });
  assertNoPageProblems();
});

test("a second device of Bob's shows the same conversation, and reads clear counts on the other", async () => {
  // Bob's first device leaves the conversation; two new messages wait unread there.
  await byTestId(bob.page, "composer-input").press("Escape");
  await send(alice.page, "Are you there?");
  await send(alice.page, "Hello again");
  await unreadCount(bob.page, "alice").filter({ hasText: "2" }).waitFor();

  // The second device: the same count, and the whole conversation as the first device saw it.
  const second = await person();
  await login(second.page, "bob");
  assert.equal(await unreadCount(second.page, "alice").textContent(), "2");
  await openChat(second.page, "alice");
  await message(second.page, "Hello again").waitFor();
  await message(second.page, "The final version").getByTestId("message-edited").waitFor();
  assert.equal(await message(second.page, "The first draft").count(), 0);
  await second.page.locator('[data-testid="message-deleted"]').waitFor();
  await byTestId(second.page, "attachment").filter({ hasText: "notes.txt" }).waitFor();
  const quote = message(second.page, "Looks good to me").getByTestId("reply-quote");
  assert.match(await quote.textContent(), /The final version/);

  // It read them: the first device's count goes, live.
  await unreadCount(bob.page, "alice").waitFor({ state: "detached" });
  await second.page.screenshot({ path: join(OUTPUT, "second-device.png") });

  // An edit and a delete arrive live on both devices of Bob's.
  await message(alice.page, "Hello again").hover();
  await message(alice.page, "Hello again").getByTestId("message-edit").click();
  await byTestId(alice.page, "edit-input").fill("Hello again, edited");
  await byTestId(alice.page, "edit-input").press("Enter");
  await message(second.page, "Hello again, edited").getByTestId("message-edited").waitFor();
  await openChat(bob.page, "alice");
  await message(bob.page, "Hello again, edited").waitFor();
  assertNoPageProblems();
});

test("a device away for a while catches up from its position on return", async () => {
  const third = await person();
  const frames = recordFrames(third.page);
  await login(third.page, "bob");
  await openChat(third.page, "alice");
  await message(third.page, "Hello again, edited").waitFor();
  await third.page.locator("#connection[data-state='open']").waitFor();

  // Away: the page is left (its socket closes); meanwhile Alice edits, deletes and writes, and
  // Bob reads on his first device, which has the conversation open.
  await third.page.goto("about:blank");
  await message(alice.page, "Are you there?").hover();
  await message(alice.page, "Are you there?").getByTestId("message-delete").click();
  await byTestId(alice.page, "delete-confirm").click();
  await send(alice.page, "While you were away");
  await message(bob.page, "While you were away").waitFor();
  await alice.page.locator('[data-testid="message"][data-status="read"]').filter({ hasText: "While you were away" }).waitFor();

  // Back: the first frame carries the position, and the catch-up (TEXT, DELETE, READ_STATE)
  // comes before SYNCED.
  frames.list.length = 0;
  const syncedFrame = frames.next((f) => !f.sent && f.type === EVENT.SYNCED);
  await third.page.goto(server.url);
  await syncedFrame;
  const auth = frames.list.find((f) => f.sent);
  assert.ok(auth && auth.since !== undefined, `the first frame carries since: ${JSON.stringify(auth)}`);
  const received = frames.list.filter((f) => !f.sent);
  const synced = received.findIndex((f) => f.type === EVENT.SYNCED);
  const caughtUp = received.slice(received.findIndex((f) => f.type === EVENT.CHATPREVIEWS) + 1, synced);
  const types = new Set(caughtUp.map((f) => f.type));
  for (const type of [EVENT.TEXT, EVENT.DELETE, EVENT.READ_STATE]) {
    assert.ok(types.has(type), `the catch-up carries event ${type}: ${JSON.stringify(caughtUp.map((f) => f.type))}`);
  }
  assert.ok(caughtUp.every((f) => typeof f.pos === "number"), "every caught-up event has its pos");

  // What it shows agrees: nothing unread (read on the first device), the delete and the new message.
  assert.equal(await unreadCount(third.page, "alice").count(), 0);
  await openChat(third.page, "alice");
  await message(third.page, "While you were away").waitFor();
  assert.equal(await message(third.page, "Are you there?").count(), 0);
  assertNoPageProblems();
});

/** POSTs JSON to the server (the HTTP API), with a Bearer token when given; the parsed answer. */
async function post(path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${server.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  assert.ok(response.ok, `${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

test("the chat list pages on past the 200 most recent conversations when scrolled", async () => {
  const extra = 5;
  const writers = Array.from({ length: CONNECT_PREVIEWS + extra }, (_, i) => `pager${String(i).padStart(3, "0")}`);
  await post("/auth/register", { username: "carol", password: "carol password", name: "Carol" });
  // One request at a time: one kept-alive connection, far from the per-address limits that
  // would otherwise refuse the browsers' own requests (CONNECT_LIMIT, HTTP_ADDRESS_CONNECTIONS).
  const tokens = [];
  for (const username of writers) tokens.push((await post("/auth/register", { username, password: `${username} password` })).token);
  // Carol's first device has them all (they come to it, live); one at a time, so the first
  // writers' conversations are the oldest.
  const first = await person();
  await login(first.page, "carol");
  for (const [i, token] of tokens.entries()) await post("/v1/messages", { to: "carol", content: `Note ${i}` }, token);
  await byTestId(first.page, "chat-item").filter({ hasText: writers.at(-1) }).waitFor();

  // A second device gets the 200 most recent at connect (nothing is pending any more).
  const carol = await person();
  await login(carol.page, "carol");
  const items = byTestId(carol.page, "chat-item");
  await byTestId(carol.page, "chats-more").waitFor();
  assert.equal(await items.count(), CONNECT_PREVIEWS);
  assert.equal(await items.filter({ hasText: "pager000" }).count(), 0, "the oldest are not in the first page");

  await items.last().scrollIntoViewIfNeeded();
  await items.filter({ hasText: "pager000" }).waitFor();
  assert.equal(await items.count(), CONNECT_PREVIEWS + extra);
  await byTestId(carol.page, "chats-more").waitFor({ state: "hidden" });
  assertNoPageProblems();
});
