// The left pane: who you are, the connection state, the settings button, people search and the
// chat list (most recent first, with unread counts, who is online or typing and when the others
// were last seen; older conversations load when it is scrolled to its end). It shows what it is
// given and reports what the person picks.
import { h } from "./dom.js";
import { avatar } from "./avatar.js";
import { displayName, handle, listTime } from "./format.js";
import { previewText } from "./chat-store.js";

/** Search while typing, but not on every key: one request per pause. */
const SEARCH_DELAY_MS = 200;
/** Within this many pixels of the list's end, the next page of conversations is fetched. */
const LIST_END_PX = 120;

const CONNECTION_TEXT = {
  idle: "Offline",
  connecting: "Connecting…",
  open: "Online",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

export class SidebarView {
  /**
   * @param {{ open(user: object): void, search(q: string): Promise<object[]>, logout(): void, more(): void,
   *   settings(): void }} actions
   */
  constructor(actions) {
    this.actions = actions;
    this.me = document.getElementById("me");
    this.connection = document.getElementById("connection");
    this.connectionText = document.getElementById("connection-text");
    this.searchInput = document.getElementById("search-input");
    this.searchResults = document.getElementById("search-results");
    this.searchList = document.getElementById("search-list");
    this.searchEmpty = document.getElementById("search-empty");
    this.chatSection = document.getElementById("chats");
    this.chatList = document.getElementById("chat-list");
    this.chatsEmpty = document.getElementById("chats-empty");
    this.moreButton = document.getElementById("chats-more");
    this.items = new Map();
    this.searchTimer = 0;
    this.searchSeq = 0;
    this.resultsFor = null;

    document.getElementById("logout").addEventListener("click", () => actions.logout());
    document.getElementById("settings-open").addEventListener("click", () => actions.settings());
    this.searchInput.addEventListener("input", () => this.scheduleSearch());
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.clearSearch();
      if (event.key === "ArrowDown") this.searchList.querySelector("button")?.focus();
      // Enter picks the first person found, but only among results for what is typed now.
      if (event.key === "Enter" && this.resultsFor === this.searchInput.value.trim()) {
        this.searchList.querySelector("button")?.click();
      }
    });
    this.moreButton.addEventListener("click", () => actions.more());
    this.chatSection.addEventListener("scroll", () => {
      const { scrollTop, scrollHeight, clientHeight } = this.chatSection;
      if (!this.moreButton.hidden && scrollHeight - scrollTop - clientHeight < LIST_END_PX) actions.more();
    }, { passive: true });
    for (const list of [this.searchList, this.chatList]) {
      list.addEventListener("keydown", (event) => moveFocus(list, event));
    }
  }

  setMe(user) {
    this.me.replaceChildren(
      avatar(user, "avatar--sm"),
      h("span", { className: "me-text" },
        h("span", { className: "me-name" }, displayName(user)),
        h("span", { className: "me-username" }, handle(user))),
    );
  }

  setConnection(state) {
    this.connection.dataset.state = state;
    this.connectionText.textContent = CONNECTION_TEXT[state] ?? state;
  }

  /** Whether older conversations can be loaded, and whether they are being. */
  setMore(more, loading) {
    this.moreButton.hidden = !more;
    this.moreButton.disabled = loading;
    this.moreButton.textContent = loading ? "Loading…" : "More conversations";
    this.chatSection.setAttribute("aria-busy", String(loading));
  }

  reset() {
    this.setMore(false, false);
    this.clearSearch();
    this.chatList.replaceChildren();
    this.items.clear();
  }

  clearSearch() {
    clearTimeout(this.searchTimer);
    this.searchSeq += 1;
    this.resultsFor = null;
    this.searchInput.value = "";
    this.searchResults.hidden = true;
    this.chatSection.hidden = false;
  }

  scheduleSearch() {
    clearTimeout(this.searchTimer);
    const query = this.searchInput.value.trim();
    if (!query) {
      this.clearSearch();
      return;
    }
    this.searchTimer = setTimeout(() => this.search(query), SEARCH_DELAY_MS);
  }

  async search(query) {
    const seq = ++this.searchSeq;
    this.searchResults.hidden = false;
    this.chatSection.hidden = true;
    this.searchResults.setAttribute("aria-busy", "true");
    let people;
    try {
      people = await this.actions.search(query);
    } catch (error) {
      if (seq !== this.searchSeq) return;
      this.showResults([], error?.code === "rate_limited" ? "Searching too fast; type a little more." : "Search failed. Try again.");
      return;
    }
    if (seq !== this.searchSeq) return;  // a newer search is under way
    this.resultsFor = query;
    this.showResults(people, `Nobody found for “${query}”.`);
  }

  showResults(people, emptyText) {
    this.searchResults.removeAttribute("aria-busy");
    this.searchList.replaceChildren(...people.map((user) => h("li", {},
      h("button", {
        type: "button",
        className: "person",
        dataset: { testid: "search-result", userId: String(user.id) },
        onclick: () => {
          this.clearSearch();
          this.actions.open(user);
        },
      },
        avatar(user),
        h("span", { className: "person-text" },
          h("span", { className: "person-name" }, displayName(user)),
          h("span", { className: "person-username" }, handle(user)))))));
    this.searchEmpty.hidden = people.length > 0;
    this.searchEmpty.textContent = people.length ? "" : emptyText;
  }

  /**
   * Redraws the chat list in place: the buttons stay, so keyboard focus stays where it was.
   * `people` (people-store.js) says who is online, typing or blocked.
   */
  renderChats(chats, activeUserId, meId, people) {
    const seen = new Set();
    chats.forEach((chat, index) => {
      const id = chat.user.id;
      seen.add(id);
      let item = this.items.get(id);
      if (!item) {
        const button = h("button", {
          type: "button",
          className: "chat-item",
          dataset: { testid: "chat-item", userId: String(id) },
          onclick: () => this.actions.open(chat.user),
        });
        item = h("li", {}, button);
        this.items.set(id, item);
      }
      fillChatItem(item.firstChild, chat, id === activeUserId, meId, people);
      if (this.chatList.children[index] !== item) {
        const hadFocus = item.contains(document.activeElement);
        this.chatList.insertBefore(item, this.chatList.children[index] ?? null);
        if (hadFocus) item.firstChild.focus();
      }
    });
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    this.chatsEmpty.hidden = chats.length > 0;
  }
}

function fillChatItem(button, chat, active, meId, people) {
  const id = chat.user.id;
  const last = chat.lastMessage;
  const preview = last
    ? `${last.fromId === meId ? "You: " : ""}${previewText(last)}`
    : "No messages yet";
  const presence = people.presenceOf(id);
  const typing = people.isTyping(id);
  if (active) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  button.classList.toggle("has-unread", chat.unread > 0);
  button.dataset.online = String(presence?.online === true);
  button.replaceChildren(
    avatar(chat.user, "", { online: presence?.online }),
    h("span", { className: "chat-text" },
      h("span", { className: "chat-top" },
        h("span", { className: "chat-name" }, displayName(chat.user)),
        h("span", { className: "chat-username" }, handle(chat.user), presenceNode(presence)),
        chat.lastAt ? h("time", { className: "chat-time", dateTime: new Date(chat.lastAt).toISOString() }, listTime(chat.lastAt)) : null),
      h("span", { className: "chat-bottom" },
        typing
          ? h("span", { className: "chat-preview chat-typing", dataset: { testid: "chat-typing" } }, "typing…")
          : h("span", { className: "chat-preview" }, preview),
        chat.unread > 0
          ? h("span", { className: "unread-count", dataset: { testid: "unread-count" }, "aria-label": `${chat.unread} unread` }, String(chat.unread))
          : null)),
  );
}

/** "online", or when they were last seen (short, as the list's times), or nothing when unknown or hidden. */
function presenceNode(presence) {
  if (!presence || (!presence.online && presence.lastSeen === null)) return null;
  const text = presence.online ? "online" : `last seen ${listTime(presence.lastSeen)}`;
  return h("span", { className: "chat-presence", dataset: { testid: "chat-presence" } }, ` · ${text}`);
}

/** Arrow keys move between the buttons of a list, as in a menu. */
function moveFocus(list, event) {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const buttons = [...list.querySelectorAll("button")];
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  buttons[Math.max(0, Math.min(buttons.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))].focus();
}
