// The right pane: one conversation, its history (paged backwards by scrolling up or the "load
// earlier" button), your messages with their ticks, and the composer (Enter sends).
import { h, icon, ICONS } from "./dom.js";
import { avatar } from "./avatar.js";
import { clockTime, dayKey, dayLabel, displayName, fullTime } from "./format.js";

/** The width from which style.css shows both panes. */
const TWO_PANES_MIN_WIDTH_PX = 760;
/** Within this many pixels of an edge counts as being at it (a touch of slack for rounding). */
const EDGE_PX = 48;

const STATUS = {
  sending: { icon: ICONS.clock, label: "Sending" },
  stored: { icon: ICONS.check, label: "Sent" },
  delivered: { icon: ICONS.doubleCheck, label: "Delivered" },
  read: { icon: ICONS.doubleCheck, label: "Read" },
  failed: { icon: ICONS.alert, label: "Not sent" },
};

export class ConversationView {
  /** @param {{ send(text: string): void, loadEarlier(): void, back(): void, retry(message: object): void }} actions */
  constructor(actions) {
    this.actions = actions;
    this.empty = document.getElementById("conversation-empty");
    this.pane = document.getElementById("conversation-pane");
    this.peer = document.getElementById("peer");
    this.scroller = document.getElementById("scroller");
    this.list = document.getElementById("message-list");
    this.loadEarlierButton = document.getElementById("load-earlier");
    this.historyStart = document.getElementById("history-start");
    this.composer = document.getElementById("composer");
    this.input = document.getElementById("composer-input");
    this.jumpButton = document.getElementById("jump-to-latest");
    this.nodes = new Map();
    this.chat = null;
    this.loading = false;

    document.getElementById("back").addEventListener("click", () => actions.back());
    this.loadEarlierButton.addEventListener("click", () => actions.loadEarlier());
    this.jumpButton.addEventListener("click", () => {
      this.scroller.scrollTop = this.scroller.scrollHeight;
      this.input.focus();
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < EDGE_PX && this.chat?.hasEarlier && !this.loading) actions.loadEarlier();
      if (this.atBottom()) this.jumpButton.hidden = true;
    }, { passive: true });
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.pane.addEventListener("keydown", (event) => {
      if (event.key === "Escape") actions.back();
    });
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || !this.chat) return;
    this.input.value = "";
    this.actions.send(text);
  }

  open(chat) {
    if (this.chat !== chat) {
      if (this.chat) this.chat.draft = this.input.value;
      this.jumpButton.hidden = true;
      this.chat = chat;
      this.nodes.clear();
      this.list.replaceChildren();
      this.input.value = chat.draft ?? "";
    }
    this.peer.replaceChildren(
      avatar(chat.user),
      h("span", { className: "peer-text" },
        h("h2", { id: "peer-name", className: "peer-name", tabIndex: -1 }, displayName(chat.user)),
        h("span", { className: "peer-username" }, `@${chat.user.username}`)),
    );
    this.empty.hidden = true;
    this.pane.hidden = false;
    this.render({ toEnd: true });
  }

  close() {
    if (this.chat) this.chat.draft = this.input.value;
    this.jumpButton.hidden = true;
    this.chat = null;
    this.nodes.clear();
    this.list.replaceChildren();
    this.pane.hidden = true;
    this.empty.hidden = false;
  }

  /**
   * Focus moves into the conversation: to the composer where there is room, to its heading on a
   * phone, where focusing the composer would cover half the screen with the keyboard at once.
   */
  focus() {
    if (matchMedia(`(min-width: ${TWO_PANES_MIN_WIDTH_PX}px)`).matches) this.input.focus();
    else document.getElementById("peer-name").focus();
  }

  setLoading(loading) {
    this.loading = loading;
    this.scroller.setAttribute("aria-busy", String(loading));
    // A page of history is not news: screen readers skip it rather than reading 50 messages out.
    this.list.setAttribute("aria-busy", String(loading));
    this.loadEarlierButton.disabled = loading;
    this.loadEarlierButton.textContent = loading ? "Loading…" : "Load earlier messages";
  }

  /**
   * Brings the list in line with the chat's messages, moving and adding nodes rather than
   * rebuilding them. `keepPosition`: older messages were added above, so the view stays on what
   * the reader was looking at; otherwise a reader at the bottom follows new messages.
   */
  render({ keepPosition = false, toEnd = false } = {}) {
    const chat = this.chat;
    if (!chat) return;
    const { scrollTop, scrollHeight } = this.scroller;
    const atBottom = this.atBottom();
    const lastKey = this.list.lastElementChild?.dataset.key;

    const wanted = [];
    let day = null;
    let previous = null;
    for (const message of chat.messages) {
      const key = dayKey(message.createdAt);
      if (key !== day) {
        day = key;
        previous = null;
        wanted.push(this.node(`day-${key}`, () => h("li", { className: "day-separator" },
          h("span", {}, dayLabel(message.createdAt)))));
      }
      const node = this.node(message.key, () => messageNode(message, this.actions));
      updateMessageNode(node, message, previous);
      wanted.push(node);
      previous = message;
    }
    let cursor = this.list.firstChild;
    for (const node of wanted) {
      if (node === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(node, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      this.nodes.delete(cursor.dataset.key);
      cursor.remove();
      cursor = next;
    }

    const started = chat.loaded && !chat.hasEarlier;
    this.loadEarlierButton.hidden = !chat.hasEarlier;
    this.historyStart.hidden = !started;
    this.historyStart.textContent = chat.messages.length
      ? "This is the start of your conversation."
      : `No messages yet. Say hello to ${displayName(chat.user)}!`;

    if (keepPosition) this.scroller.scrollTop = scrollTop + (this.scroller.scrollHeight - scrollHeight);
    else if (toEnd || atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
    // Someone wrote while you were reading further up: say so rather than pull you down.
    else if (this.list.lastElementChild?.dataset.key !== lastKey) this.jumpButton.hidden = false;
    if (this.atBottom()) this.jumpButton.hidden = true;
  }

  atBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < EDGE_PX;
  }

  node(key, create) {
    let node = this.nodes.get(key);
    if (!node) {
      node = create();
      node.dataset.key = key;
      this.nodes.set(key, node);
    }
    return node;
  }
}

function messageNode(message, actions) {
  const time = h("time", { className: "message-time", dateTime: new Date(message.createdAt).toISOString(), title: fullTime(message.createdAt) },
    clockTime(message.createdAt));
  const meta = h("span", { className: "message-meta" }, time);
  const node = h("li", { className: `message ${message.own ? "message--own" : "message--theirs"}`, dataset: { testid: "message" } },
    h("div", { className: "bubble" },
      h("p", { className: "message-text" }, message.content),
      meta));
  if (message.own) {
    meta.append(h("span", { className: "tick", role: "img" }));
    node.append(h("button", { type: "button", className: "btn btn-ghost retry", hidden: true, onclick: () => actions.retry(message) }, "Retry"));
  }
  return node;
}

function updateMessageNode(node, message, previous) {
  // Messages from the same person within a few minutes sit together, without repeated spacing.
  const grouped = previous && previous.own === message.own && message.createdAt - previous.createdAt < 5 * 60 * 1000;
  node.classList.toggle("message--grouped", Boolean(grouped));
  if (!message.own || node.dataset.status === message.status) return;
  node.dataset.status = message.status;
  const status = STATUS[message.status];
  const tick = node.querySelector(".tick");
  tick.className = `tick tick--${message.status}`;
  tick.setAttribute("aria-label", status.label);
  tick.title = message.status === "failed" && message.error ? `Not sent: ${message.error}` : status.label;
  tick.replaceChildren(icon(status.icon));
  node.querySelector(".retry").hidden = message.status !== "failed";
}
