// The web client end to end: the real server, Debian's Chromium, two people in two browser
// contexts. Registers, searches, chats, follows one message through every tick, reloads, survives
// a server restart, and works at phone width. Screenshots go to CHATRIX_TEST_OUTPUT (kept).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { resolve, join } from "node:path";
import { ChatrixServer } from "./server.js";
import { launchChromium, openPerson } from "./browser.js";
import { byTestId, login, message, register } from "./people.js";

const OUTPUT = process.env.CHATRIX_TEST_OUTPUT ?? resolve(import.meta.dirname, "../../build/test-output/browser");
/** Long enough for a loaded machine; every wait ends as soon as its condition holds. */
const WAIT_MS = 15_000;
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

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

async function person(options = DESKTOP) {
  const p = await openPerson(browser, server.url, options);
  p.page.setDefaultTimeout(WAIT_MS);
  people.push(p);
  return p;
}

/** Records every data-status a message goes through, also those that last only a moment. */
function recordStatuses(page) {
  return page.evaluate(() => {
    window.statusLog = [];
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "childList") {
          for (const node of r.addedNodes) {
            if (node.dataset?.status) window.statusLog.push([node.textContent, `added:${node.dataset.status}`]);
          }
        } else {
          window.statusLog.push([r.target.textContent, r.oldValue ?? "", r.target.dataset.status]);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"], attributeOldValue: true });
  });
}

/** The statuses the message with this text went through, in order, without repeats. */
async function statusesOf(page, text) {
  const log = await page.evaluate(() => window.statusLog);
  const seen = [];
  for (const [content, ...values] of log) {
    if (!content.includes(text)) continue;
    for (const value of values) {
      const status = value.replace("added:", "");
      if (status && seen.at(-1) !== status) seen.push(status);
    }
  }
  return seen;
}

/** Waits until the message with this text has the status, or one of them when given a list. */
async function expectStatus(page, text, status) {
  const wanted = [status].flat();
  await page.waitForFunction(([t, w]) => [...document.querySelectorAll('[data-testid="message"]')]
    .some((m) => m.textContent.includes(t) && w.includes(m.dataset.status)), [text, wanted]);
}

function assertNoPageProblems() {
  for (const p of people) {
    const serious = p.problems.filter((line) => line.startsWith("page error") || /Content Security Policy/i.test(line));
    assert.deepEqual(serious, [], "page errors or CSP refusals");
  }
}

test("two people chat in the web client", async () => {
  const alice = await person();
  const bob = await person();

  // Signed out: the one form, then a new account each.
  for (const id of ["login-username", "login-password", "login-name", "login-submit", "register-submit"]) {
    assert.ok(await byTestId(alice.page, id).isVisible(), `${id} is shown`);
  }
  await register(alice.page, "alice", "Alice Liddell");
  await register(bob.page, "bob", "Bob Builder");

  // Alice finds Bob and opens a conversation with him.
  await byTestId(alice.page, "search-input").fill("bob");
  const result = byTestId(alice.page, "search-result").filter({ hasText: "bob" });
  await result.click();
  await byTestId(alice.page, "composer-input").waitFor();
  await recordStatuses(alice.page);

  // Enter sends.
  await byTestId(alice.page, "composer-input").fill("Hello Bob, it's Alice!");
  await byTestId(alice.page, "composer-input").press("Enter");
  await message(alice.page, "Hello Bob").waitFor();
  assert.equal(await byTestId(alice.page, "composer-input").inputValue(), "", "the composer is cleared");

  // Bob's page is open with no conversation: his device has the message, so Alice sees it delivered.
  const chatWithAlice = byTestId(bob.page, "chat-item").filter({ hasText: "alice" });
  await chatWithAlice.waitFor();
  assert.equal(await chatWithAlice.getByTestId("unread-count").textContent(), "1");
  await expectStatus(alice.page, "Hello Bob", "delivered");

  // Bob opens the chat: he sees the message, his unread count goes, and Alice sees it read.
  await chatWithAlice.click();
  await message(bob.page, "Hello Bob, it's Alice!").waitFor();
  await byTestId(bob.page, "unread-count").waitFor({ state: "detached" });
  await expectStatus(alice.page, "Hello Bob", "read");
  assert.deepEqual(await statusesOf(alice.page, "Hello Bob"), ["sending", "stored", "delivered", "read"]);
  assert.equal(await message(bob.page, "Hello Bob").getAttribute("data-status"), null, "only own messages carry a status");

  // Bob answers with the button; Alice has the chat open, so it is read at once.
  await byTestId(bob.page, "composer-input").fill("Hi Alice! Good to hear from you.");
  await byTestId(bob.page, "composer-send").click();
  await message(alice.page, "Good to hear from you").waitFor();
  await expectStatus(bob.page, "Good to hear from you", "read");
  assert.equal(await byTestId(alice.page, "unread-count").count(), 0);

  await alice.page.screenshot({ path: join(OUTPUT, "desktop.png") });

  // A reload keeps the session, the chat list and the history with its ticks.
  await alice.page.reload();
  await byTestId(alice.page, "search-input").waitFor();
  assert.equal(await byTestId(alice.page, "login-submit").isVisible(), false, "still signed in");
  await byTestId(alice.page, "chat-item").filter({ hasText: "bob" }).click();
  await message(alice.page, "Good to hear from you").waitFor();
  assert.equal(await message(alice.page, "Hello Bob").getAttribute("data-status"), "read");

  assertNoPageProblems();
});

test("the client reconnects after a server restart and sends what was written meanwhile", async () => {
  const [alice, bob] = people;
  const port = server.port;
  await server.stop();
  await alice.page.locator('#connection[data-state="reconnecting"]').waitFor();

  await byTestId(alice.page, "composer-input").fill("Written while you were away");
  await byTestId(alice.page, "composer-send").click();
  await expectStatus(alice.page, "Written while you were away", "sending");

  await server.start(port);
  await alice.page.locator('#connection[data-state="open"]').waitFor({ timeout: 45_000 });
  await expectStatus(alice.page, "Written while you were away", "read");
  await message(bob.page, "Written while you were away").waitFor();
  assert.equal(await message(alice.page, "Written while you were away").count(), 1, "sent once");
  assert.equal(await message(bob.page, "Written while you were away").count(), 1, "received once");
});

test("at phone width one pane shows at a time, with a way back", async () => {
  const phone = await person(PHONE);
  await byTestId(phone.page, "login-username").fill("bob");
  await byTestId(phone.page, "login-password").fill("bob password");
  await byTestId(phone.page, "login-password").press("Enter");  // Enter logs in

  const chatItem = byTestId(phone.page, "chat-item").filter({ hasText: "alice" });
  await chatItem.waitFor();
  assert.equal(await byTestId(phone.page, "composer-input").isVisible(), false, "the list alone at first");
  await chatItem.click();
  await message(phone.page, "Hello Bob").waitFor();
  assert.equal(await byTestId(phone.page, "search-input").isVisible(), false, "the conversation alone");
  const box = await message(phone.page, "Hello Bob").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, "messages fit the screen");

  await byTestId(phone.page, "composer-input").fill("Sent from my phone");
  await byTestId(phone.page, "composer-input").press("Enter");
  await message(people[0].page, "Sent from my phone").waitFor();
  await phone.page.screenshot({ path: join(OUTPUT, "phone.png") });

  await phone.page.getByRole("button", { name: "Back to chats" }).click();
  await chatItem.waitFor();
  assert.equal(await byTestId(phone.page, "composer-input").isVisible(), false);

  // The browser's back (a phone's back gesture) leaves the conversation, not the app.
  await chatItem.click();
  await byTestId(phone.page, "composer-input").waitFor();
  await phone.page.goBack();
  await chatItem.waitFor();
  assert.equal(new URL(phone.page.url()).origin, server.url);
  assertNoPageProblems();
});

test("history pages backwards when scrolling up", async () => {
  const [alice] = people;
  const input = byTestId(alice.page, "composer-input");
  for (let i = 1; i <= 55; i++) {
    await input.fill(`Page test ${i}`);
    await input.press("Enter");
  }
  // Bob's first window has the chat open, so it may be read before a check would see "stored".
  await expectStatus(alice.page, "Page test 55", ["stored", "delivered", "read"]);

  // A new device of Bob's sees the newest page first, then the rest on request.
  const bob = await person();
  await login(bob.page, "bob");
  await byTestId(bob.page, "chat-item").filter({ hasText: "alice" }).click();
  await message(bob.page, "Page test 55").waitFor();
  assert.equal(await byTestId(bob.page, "message").count(), 50, "one page of 50");
  assert.equal(await message(bob.page, "Hello Bob").count(), 0);

  // Scrolling up loads the earlier page (the button does the same for keyboards; clicking it
  // here would race with the load the scroll into view starts).
  assert.ok(await bob.page.getByRole("button", { name: "Load earlier messages" }).isEnabled());
  const scroller = await bob.page.locator("#scroller").boundingBox();
  await bob.page.mouse.move(scroller.x + scroller.width / 2, scroller.y + scroller.height / 2);
  await bob.page.mouse.wheel(0, -100_000);
  await message(bob.page, "Hello Bob").waitFor();
  const texts = await byTestId(bob.page, "message").allTextContents();
  assert.equal(texts.length, 59, "the whole conversation, each message once");
  assert.match(texts[0], /Hello Bob/);
  assert.match(texts.at(-1), /Page test 55/);
  await bob.page.getByText("This is the start of your conversation.").waitFor();

  // Reading far up, a new message does not pull the view down: a button offers to jump.
  await byTestId(alice.page, "composer-input").fill("Still reading?");
  await byTestId(alice.page, "composer-input").press("Enter");
  const jump = bob.page.getByRole("button", { name: "New messages" });
  await jump.click();
  assert.ok(await message(bob.page, "Still reading?").isVisible());
  await jump.waitFor({ state: "hidden" });

  await bob.page.emulateMedia({ colorScheme: "dark" });
  await bob.page.screenshot({ path: join(OUTPUT, "desktop-dark.png") });
});

test("a message the server refuses is marked failed, with a retry", async () => {
  const [alice] = people;
  const tooLong = `Too long ${"x".repeat(9000)}`;  // MAX_CONTENT_BYTES is 8 KiB
  await byTestId(alice.page, "composer-input").fill(tooLong);
  await byTestId(alice.page, "composer-send").click();
  await expectStatus(alice.page, "Too long", "failed");
  assert.ok(await message(alice.page, "Too long").getByRole("button", { name: "Retry" }).isVisible());
  await alice.page.getByRole("alert").filter({ hasText: "Message not sent" }).waitFor();
});

test("logging out ends the session, also after a reload", async () => {
  const [alice] = people;
  const token = await alice.page.evaluate(() => JSON.parse(localStorage.getItem("chatrix.session")).token);
  await alice.page.getByRole("button", { name: "Log out" }).click();
  await byTestId(alice.page, "login-submit").waitFor();
  await alice.page.reload();
  await byTestId(alice.page, "login-submit").waitFor();
  assert.equal(await byTestId(alice.page, "search-input").isVisible(), false);

  // The token was revoked: put back in storage, it gets the form again, with the reason.
  await alice.page.evaluate((t) => localStorage.setItem("chatrix.session",
    JSON.stringify({ token: t, user: { id: 1, username: "alice", name: "Alice" } })), token);
  await alice.page.reload();
  await byTestId(alice.page, "login-submit").waitFor();
  await alice.page.getByText("Your session has ended. Please log in again.").waitFor();
  assert.equal(await alice.page.evaluate(() => localStorage.getItem("chatrix.session")), null);
  assertNoPageProblems();
});
