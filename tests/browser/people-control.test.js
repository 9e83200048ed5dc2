// Typing, presence, blocking and account control in the web client, end to end: the real server
// (PRESENCE_GRACE=1s, so going offline shows within a second or two), Debian's Chromium, Alice
// and Bob in two browser contexts. Alice types and Bob sees it come and go; Alice's dot on Bob's
// side follows her connection and her privacy switch; Bob blocks her and does not get what she
// sends meanwhile, not even after unblocking; Alice renames herself, downloads her data and
// deletes her account, and Bob then sees "Deleted account". Screenshots go to CHATRIX_TEST_OUTPUT.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ChatrixServer } from "./server.js";
import { launchChromium, openPerson } from "./browser.js";
import { byTestId, message, register } from "./people.js";

const OUTPUT = process.env.CHATRIX_TEST_OUTPUT ?? resolve(import.meta.dirname, "../../build/test-output/browser");
/** Long enough for a loaded machine; every wait ends as soon as its condition holds. */
const WAIT_MS = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };

const server = new ChatrixServer(undefined, { PRESENCE_GRACE: "1s" });
let browser;
const people = [];
let alice;
let bob;

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
  const p = await openPerson(browser, server.url, { ...DESKTOP, acceptDownloads: true });
  p.page.setDefaultTimeout(WAIT_MS);
  people.push(p);
  return p;
}

function assertNoPageProblems() {
  for (const p of people) {
    const serious = p.problems.filter((line) => line.startsWith("page error") || /Content Security Policy/i.test(line));
    assert.deepEqual(serious, [], "page errors or CSP refusals");
  }
}

function chatItem(page, text) {
  return byTestId(page, "chat-item").filter({ hasText: text });
}

async function openChat(page, text) {
  await chatItem(page, text).click();
  await page.locator("#conversation-pane:not([hidden])").waitFor();
}

async function send(page, text) {
  await byTestId(page, "composer-input").fill(text);
  await byTestId(page, "composer-input").press("Enter");
}

/** Reloads the page (the session stays) and waits until it is connected again. */
async function reload(page) {
  await page.reload();
  await page.locator("#connection[data-state='open']").waitFor();
}

/** Waits until the element with this data-testid has exactly this text ("" for none). */
function textIs(page, testid, text) {
  return page.waitForFunction(([id, t]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === t, [testid, text]);
}

async function openSettings(page) {
  await byTestId(page, "settings-open").click();
  await byTestId(page, "settings-dialog").waitFor();
}

test("typing shows on the other side while Alice types, and goes when she empties, leaves or sends", async () => {
  alice = await person();
  bob = await person();
  await register(alice.page, "alice", "Alice Liddell");
  await register(bob.page, "bob", "Bob Builder");
  await byTestId(alice.page, "search-input").fill("bob");
  await byTestId(alice.page, "search-result").filter({ hasText: "bob" }).click();
  await send(alice.page, "Hello Bob");
  await openChat(bob.page, "alice");
  await message(bob.page, "Hello Bob").waitFor();
  await send(bob.page, "Hi Alice");
  await message(alice.page, "Hi Alice").waitFor();
  // Presence reaches the people a device's previews name: both start again with the conversation in them.
  await reload(alice.page);
  await reload(bob.page);
  await openChat(alice.page, "bob");
  await openChat(bob.page, "alice");

  const composer = byTestId(alice.page, "composer-input");
  const typingLine = byTestId(bob.page, "typing-indicator");
  const listTyping = chatItem(bob.page, "alice").getByTestId("chat-typing");

  // Typing, then an emptied composer.
  await composer.pressSequentially("Hel");
  await typingLine.filter({ hasText: "Alice Liddell is typing…" }).waitFor();
  await listTyping.waitFor();
  await composer.fill("");
  await textIs(bob.page, "typing-indicator", "");
  await listTyping.waitFor({ state: "detached" });

  // Typing, then the composer loses focus.
  await composer.pressSequentially("Wait");
  await typingLine.filter({ hasText: "is typing" }).waitFor();
  await bob.page.screenshot({ path: join(OUTPUT, "people-typing.png") });
  await byTestId(alice.page, "search-input").focus();
  await textIs(bob.page, "typing-indicator", "");

  // Typing, then Enter: the message ends it on Bob's side.
  await composer.fill("");
  await composer.pressSequentially("Are you there?");
  await typingLine.filter({ hasText: "is typing" }).waitFor();
  await composer.press("Enter");
  await message(bob.page, "Are you there?").waitFor();
  await textIs(bob.page, "typing-indicator", "");
  assert.equal(await listTyping.count(), 0);
  assertNoPageProblems();
});

test("Alice's online dot on Bob's side follows her connection, with her last seen once she has gone", async () => {
  const dot = chatItem(bob.page, "alice").getByTestId("presence-dot");
  const status = byTestId(bob.page, "peer-status");
  await dot.waitFor();
  await status.filter({ hasText: "online" }).waitFor();
  assert.equal(await bob.page.locator("#peer [data-testid='presence-dot']").count(), 1, "the header's avatar has the dot too");

  // Alice leaves the page: after PRESENCE_GRACE she is offline, seen last just now.
  await alice.page.goto("about:blank");
  await dot.waitFor({ state: "detached" });
  await status.filter({ hasText: /^last seen today at / }).waitFor();
  await chatItem(bob.page, "alice").getByTestId("chat-presence").filter({ hasText: "last seen" }).waitFor();
  assert.equal(await bob.page.locator("#peer [data-testid='presence-dot']").count(), 0);

  // Back (the session is kept): online again.
  await alice.page.goto(server.url);
  await dot.waitFor();
  await status.filter({ hasText: "online" }).waitFor();
  await openChat(alice.page, "bob");
  await byTestId(alice.page, "peer-status").filter({ hasText: "online" }).waitFor();
  assertNoPageProblems();
});

test("Alice hides her online status in the settings, and shows it again", async () => {
  const dot = chatItem(bob.page, "alice").getByTestId("presence-dot");
  await openSettings(alice.page);
  const toggle = byTestId(alice.page, "settings-show-presence");
  await alice.page.waitForFunction(() => !document.getElementById("settings-show-presence").disabled);
  assert.equal(await toggle.isChecked(), true, "shown by default");
  await toggle.uncheck();
  await byTestId(alice.page, "settings-status").filter({ hasText: "hidden" }).waitFor();
  // Bob sees her offline at once, and not when she was last seen.
  await dot.waitFor({ state: "detached" });
  await textIs(bob.page, "peer-status", "");

  await toggle.check();
  await dot.waitFor();
  await byTestId(bob.page, "peer-status").filter({ hasText: "online" }).waitFor();

  // Kept on the server: the switch opens as it was left.
  await byTestId(alice.page, "settings-close").click();
  await openSettings(alice.page);
  await alice.page.waitForFunction(() => !document.getElementById("settings-show-presence").disabled);
  assert.equal(await toggle.isChecked(), true);
  await byTestId(alice.page, "settings-close").click();
  assertNoPageProblems();
});

test("a rename shows on the other side after a reload; the data download is one JSON file", async () => {
  await openSettings(alice.page);
  await byTestId(alice.page, "settings-name").fill("Alice Cooper");
  await byTestId(alice.page, "settings-name-save").click();
  await byTestId(alice.page, "settings-status").filter({ hasText: "Name saved." }).waitFor();
  await alice.page.locator("#me").filter({ hasText: "Alice Cooper" }).waitFor();

  const [download] = await Promise.all([
    alice.page.waitForEvent("download"),
    byTestId(alice.page, "settings-export").click(),
  ]);
  assert.equal(download.suggestedFilename(), "chatrix-export-alice.json");
  const data = JSON.parse(await readFile(await download.path(), "utf8"));
  assert.equal(data.format, "chatrix-export/1");
  assert.equal(data.account.username, "alice");
  assert.equal(data.account.name, "Alice Cooper");
  const contents = data.conversations.flatMap((c) => c.messages.map((m) => m.content));
  for (const text of ["Hello Bob", "Hi Alice", "Are you there?"]) assert.ok(contents.includes(text), `the export has "${text}": ${contents}`);
  await alice.page.screenshot({ path: join(OUTPUT, "people-settings.png") });
  await byTestId(alice.page, "settings-close").click();

  await reload(bob.page);
  await chatItem(bob.page, "Alice Cooper").waitFor();
  await openChat(bob.page, "Alice Cooper");
  await bob.page.locator("#peer-name").filter({ hasText: "Alice Cooper" }).waitFor();
  assertNoPageProblems();
});

test("Bob blocks Alice: what she sends meanwhile never reaches him, not even after he unblocks her", async () => {
  const toggle = byTestId(bob.page, "block-toggle");
  assert.equal(await toggle.textContent(), "Block");
  await chatItem(bob.page, "alice").getByTestId("presence-dot").waitFor();
  await chatItem(alice.page, "bob").getByTestId("presence-dot").waitFor();
  // A confirmation first; Cancel changes nothing.
  await toggle.click();
  await byTestId(bob.page, "block-dialog").filter({ hasText: "Block Alice Cooper?" }).waitFor();
  await byTestId(bob.page, "block-cancel").click();
  assert.equal(await toggle.textContent(), "Block");
  assert.ok(await byTestId(bob.page, "composer-input").isVisible());
  await toggle.click();
  await byTestId(bob.page, "block-confirm").click();
  await toggle.filter({ hasText: "Unblock" }).waitFor();
  await byTestId(bob.page, "composer-notice").filter({ hasText: "You blocked Alice Cooper" }).waitFor();
  assert.ok(await byTestId(bob.page, "composer-input").isHidden(), "no composer towards someone blocked");
  // Neither sees the other online any more.
  await chatItem(bob.page, "alice").getByTestId("presence-dot").waitFor({ state: "detached" });
  await chatItem(alice.page, "bob").getByTestId("presence-dot").waitFor({ state: "detached" });

  // Alice is not told: her message is stored (one tick) as usual.
  await send(alice.page, "Can you hear me?");
  await alice.page.locator('[data-testid="message"][data-status="stored"][data-message-id]').filter({ hasText: "Can you hear me?" }).waitFor();

  // Bob's settings list her; he unblocks her there.
  await openSettings(bob.page);
  const row = byTestId(bob.page, "blocked-user").filter({ hasText: "alice" });
  await row.waitFor();
  await row.getByTestId("blocked-unblock").click();
  await row.waitFor({ state: "detached" });
  await byTestId(bob.page, "settings-close").click();
  await toggle.filter({ hasText: /^Block$/ }).waitFor();
  assert.ok(await byTestId(bob.page, "composer-input").isVisible());

  // What she sends now arrives; what she sent while blocked does not, live or after a reload.
  await send(alice.page, "And now?");
  await message(bob.page, "And now?").waitFor();
  assert.equal(await message(bob.page, "Can you hear me?").count(), 0);
  await reload(bob.page);
  await openChat(bob.page, "alice");
  await message(bob.page, "And now?").waitFor();
  await message(bob.page, "Are you there?").waitFor();
  assert.equal(await message(bob.page, "Can you hear me?").count(), 0);
  await chatItem(bob.page, "alice").getByTestId("presence-dot").waitFor();
  assertNoPageProblems();
});

test("Alice deletes her account with her password: back to the login, and Bob sees a deleted account", async () => {
  await openSettings(alice.page);
  const password = byTestId(alice.page, "settings-delete-password");
  await password.fill("not my password");
  await byTestId(alice.page, "settings-delete").click();
  await byTestId(alice.page, "settings-error").filter({ hasText: "That is not your password." }).waitFor();
  assert.ok(await byTestId(alice.page, "settings-dialog").isVisible(), "still signed in after a wrong password");

  await password.fill("alice password");
  await byTestId(alice.page, "settings-delete").click();
  await byTestId(alice.page, "login-username").waitFor();
  await alice.page.locator("#auth-error").filter({ hasText: "Your account was deleted." }).waitFor();
  // The session is gone: a reload stays signed out.
  await alice.page.reload();
  await byTestId(alice.page, "login-username").waitFor();

  await reload(bob.page);
  await chatItem(bob.page, "Deleted account").waitFor();
  assert.equal(await chatItem(bob.page, "@alice").count(), 0, "her username is not shown");
  await openChat(bob.page, "Deleted account");
  await bob.page.locator("#peer-name").filter({ hasText: "Deleted account" }).waitFor();
  await byTestId(bob.page, "composer-notice").filter({ hasText: "This account was deleted" }).waitFor();
  assert.ok(await byTestId(bob.page, "block-toggle").isHidden());
  // Bob's own messages stay; hers are in their places, without their text.
  await message(bob.page, "Hi Alice").waitFor();
  assert.equal(await message(bob.page, "Hello Bob").count(), 0);
  assert.ok(await byTestId(bob.page, "message-deleted").count() >= 3, "her messages show as deleted");
  await bob.page.screenshot({ path: join(OUTPUT, "people-deleted-account.png") });
  assertNoPageProblems();
});
