// The right pane: one conversation, its history (paged backwards by scrolling up or the "load
// earlier" button), your messages with their ticks, and the composer (Enter sends). Each message
// offers Reply, and yours Edit (inline) and Delete (after a confirmation); files come in through
// the attach button or by dropping them on the pane. The header says whether the other person is
// online or when they were last seen and offers Block / Unblock (after a confirmation); a line
// above the composer says when they are typing; a blocked or deleted account gets a notice
// instead of the composer.
import { h, icon, ICONS } from "./dom.js";
import { avatar } from "./avatar.js";
import { clockTime, dayKey, dayLabel, displayName, fileSize, fullTime, handle, isDeleted, lastSeenText } from "./format.js";
import { canEdit, lastEditable } from "./chat-store.js";

/** The width from which style.css shows both panes. */
const TWO_PANES_MIN_WIDTH_PX = 760;
/** Within this many pixels of an edge counts as being at it (a touch of slack for rounding). */
const EDGE_PX = 48;
/** How long a message scrolled to from its reply stays highlighted. */
const HIGHLIGHT_MS = 1600;
/** Files taken from one drop or one pick: enough for a handful, not a whole folder by mistake. */
const MAX_FILES_AT_ONCE = 10;
/** The quote above a reply shows the start of the original, on one line. */
const QUOTE_CHARS = 120;

const STATUS = {
  sending: { icon: ICONS.clock, label: "Sending" },
  stored: { icon: ICONS.check, label: "Sent" },
  delivered: { icon: ICONS.doubleCheck, label: "Delivered" },
  read: { icon: ICONS.doubleCheck, label: "Read" },
  failed: { icon: ICONS.alert, label: "Not sent" },
};

export class ConversationView {
  /**
   * @param {{ send(text: string, options: {replyTo?: number}): void, attach(files: File[], options: {replyTo?: number}): void,
   *   edit(message: object, content: string): void, delete(message: object): void, download(attachment: object): Promise<void>,
   *   showMessage(id: number): void, loadEarlier(): void, back(): void, retry(message: object): void,
   *   typing(hasText: boolean): void, stopTyping(): void, block(user: object): void, unblock(user: object): void }} actions
   */
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
    this.replyBar = document.getElementById("reply-bar");
    this.replyName = document.getElementById("reply-name");
    this.replySnippet = document.getElementById("reply-snippet");
    this.attachInput = document.getElementById("attach-input");
    this.deleteDialog = document.getElementById("delete-dialog");
    this.blockToggle = document.getElementById("block-toggle");
    this.blockDialog = document.getElementById("block-dialog");
    this.typingIndicator = document.getElementById("typing-indicator");
    this.notice = document.getElementById("composer-notice");
    this.noticeText = document.getElementById("composer-notice-text");
    this.noticeUnblock = document.getElementById("composer-unblock");
    this.nodes = new Map();
    this.chat = null;
    this.loading = false;
    /** The message being edited in place (one at a time), and the one the composer answers. */
    this.editing = null;
    this.replyTo = null;
    this.deleting = null;
    /** The other person's state as last shown: {presence, typing, blocked}. */
    this.peerState = { presence: null, typing: false, blocked: false };
    /** The person a Block or Unblock waits for its confirmation on, and which of the two. */
    this.blockPending = null;

    document.getElementById("reply-cancel").addEventListener("click", () => this.cancelReply());
    document.getElementById("attach-button").addEventListener("click", () => this.attachInput.click());
    this.attachInput.addEventListener("change", () => {
      this.attach([...this.attachInput.files]);
      this.attachInput.value = "";
    });
    this.listenForDrops();
    this.deleteDialog.addEventListener("close", () => {
      const message = this.deleting;
      this.deleting = null;
      if (message && this.deleteDialog.returnValue === "delete") actions.delete(message);
    });
    this.blockToggle.addEventListener("click", () => this.confirmBlock());
    this.noticeUnblock.addEventListener("click", () => this.confirmBlock());
    this.blockDialog.addEventListener("close", () => {
      const pending = this.blockPending;
      this.blockPending = null;
      if (!pending || this.blockDialog.returnValue !== "confirm") return;
      if (pending.unblock) actions.unblock(pending.user);
      else actions.block(pending.user);
    });

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
    this.input.addEventListener("input", () => actions.typing(this.input.value.trim() !== ""));
    this.input.addEventListener("blur", () => actions.stopTyping());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === "ArrowUp" && this.input.value === "" && this.chat) {
        const message = lastEditable(this.chat);
        if (message) {
          event.preventDefault();
          this.startEditing(message);
        }
      } else if (event.key === "Escape" && this.replyTo) {
        event.stopPropagation();  // the first Escape drops the reply, the next leaves the chat
        this.cancelReply();
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
    this.actions.send(text, this.takeReply());
  }

  attach(files) {
    if (!this.chat || !files.length) return;
    this.actions.attach(files.slice(0, MAX_FILES_AT_ONCE), this.takeReply());
  }

  /** The reply the next message carries ({} when none), and the reply bar put away. */
  takeReply() {
    const replyTo = this.replyTo?.id;
    this.cancelReply();
    return replyTo === undefined ? {} : { replyTo };
  }

  /** Files dragged over the pane show a drop target; dropped, they are sent like picked ones. */
  listenForDrops() {
    const carriesFiles = (event) => event.dataTransfer?.types.includes("Files");
    let depth = 0;  // dragenter/dragleave fire for every child crossed
    this.pane.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      depth += 1;
      this.pane.classList.add("is-dropping");
    });
    this.pane.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) this.pane.classList.remove("is-dropping");
    });
    this.pane.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.pane.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      this.pane.classList.remove("is-dropping");
      this.attach([...event.dataTransfer.files]);
    });
  }

  startReply(message) {
    this.replyTo = message;
    this.replyName.textContent = authorName(message, this.chat);
    this.replySnippet.textContent = snippet(message);
    this.replyBar.hidden = false;
    this.input.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.replyBar.hidden = true;
  }

  startEditing(message) {
    this.editing = message;
    this.render();
    const field = this.nodes.get(message.key)?.querySelector(".edit-input");
    if (field) {
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
      field.scrollIntoView({ block: "nearest" });
    }
  }

  /** Leaves the editor; `content` (when given and changed) is the new text. */
  finishEditing(content) {
    const message = this.editing;
    if (!message) return;
    this.editing = null;
    if (content !== undefined && content !== message.content) this.actions.edit(message, content);
    this.render();
    this.input.focus();
  }

  /** Block or Unblock, whichever the person is not, once the dialog confirms it. */
  confirmBlock() {
    if (!this.chat) return;
    const user = this.chat.user;
    const name = displayName(user);
    const unblock = this.peerState.blocked;
    this.blockPending = { user, unblock };
    document.getElementById("block-title").textContent = unblock ? `Unblock ${name}?` : `Block ${name}?`;
    document.getElementById("block-text").textContent = unblock
      ? `${name} can reach you again: new messages from them arrive, and you see each other online and typing. What they sent while blocked stays hidden.`
      : `${name} is not told. Their messages stop reaching you, and neither of you sees the other online or typing. You can unblock them at any time.`;
    document.getElementById("block-confirm").textContent = unblock ? "Unblock" : "Block";
    this.blockDialog.returnValue = "";
    this.blockDialog.showModal();
  }

  confirmDelete(message) {
    this.deleting = message;
    this.deleteDialog.returnValue = "";
    this.deleteDialog.showModal();
  }

  /** Brings a message into view and highlights it (a reply's quote was clicked); false if not loaded. */
  scrollToMessage(id) {
    const message = this.chat?.byId.get(id);
    const node = message && this.nodes.get(message.key);
    if (!node) return false;
    node.scrollIntoView({ block: "center" });
    node.classList.add("message--highlight");
    setTimeout(() => node.classList.remove("message--highlight"), HIGHLIGHT_MS);
    node.querySelector(".bubble").focus({ preventScroll: true });
    return true;
  }

  open(chat) {
    if (this.chat !== chat) {
      if (this.chat) this.chat.draft = this.input.value;
      this.editing = null;
      this.cancelReply();
      this.jumpButton.hidden = true;
      this.chat = chat;
      this.nodes.clear();
      this.list.replaceChildren();
      this.input.value = chat.draft ?? "";
    }
    this.peerName = h("h2", { id: "peer-name", className: "peer-name", tabIndex: -1 });
    this.peerUsername = h("span", { className: "peer-username" });
    this.peerStatus = h("span", { className: "peer-status", dataset: { testid: "peer-status" } });
    this.peerAvatar = h("span", { className: "peer-avatar" });
    this.peer.replaceChildren(this.peerAvatar,
      h("span", { className: "peer-text" }, this.peerName, h("span", { className: "peer-sub" }, this.peerUsername, this.peerStatus)));
    this.empty.hidden = true;
    this.pane.hidden = false;
    this.render({ toEnd: true });
  }

  /**
   * The other person as this device knows them now: name, online or last seen, typing, blocked
   * or deleted. `presence` is {online, lastSeen} or null (not known).
   */
  renderPeer({ presence, typing, blocked }) {
    const chat = this.chat;
    if (!chat) return;
    this.peerState = { presence, typing, blocked };
    const { user } = chat;
    const name = displayName(user);
    const deleted = isDeleted(user);
    this.peerName.textContent = name;
    this.peerUsername.textContent = handle(user);
    this.peerAvatar.replaceChildren(avatar(user, "", { online: presence?.online }));
    this.peerStatus.textContent = presence?.online ? "online" : presence?.lastSeen ? lastSeenText(presence.lastSeen) : "";
    this.peerStatus.dataset.online = String(presence?.online === true);
    this.typingIndicator.textContent = typing && !blocked ? `${name} is typing…` : "";

    this.blockToggle.hidden = deleted;
    this.blockToggle.textContent = blocked ? "Unblock" : "Block";
    this.blockToggle.setAttribute("aria-label", blocked ? `Unblock ${name}` : `Block ${name}`);
    // Neither a blocked person nor a deleted account can be written to: a notice says why.
    const closed = deleted || blocked;
    const changed = closed !== this.composer.hidden;
    if (closed && changed) {
      this.cancelReply();
      this.editing = null;
    }
    this.composer.hidden = closed;
    this.notice.hidden = !closed;
    this.noticeUnblock.hidden = deleted || !blocked;
    this.noticeText.textContent = deleted
      ? "This account was deleted. Its messages stay here, but it cannot be written to."
      : blocked ? `You blocked ${name}. Their new messages do not reach you.` : "";
    if (changed) this.render();  // the messages' Reply and Edit go with the composer
  }

  close() {
    if (this.blockDialog.open) this.blockDialog.close();
    if (this.chat) this.chat.draft = this.input.value;
    this.editing = null;
    this.cancelReply();
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
    if (!this.composer.hidden && matchMedia(`(min-width: ${TWO_PANES_MIN_WIDTH_PX}px)`).matches) this.input.focus();
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
    if (this.editing?.deleted) this.editing = null;  // deleted meanwhile, by another device
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
      const node = this.node(message.key, () => this.messageNode(message));
      this.updateMessageNode(node, message, previous);
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
      : isDeleted(chat.user) ? "No messages." : `No messages yet. Say hello to ${displayName(chat.user)}!`;

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

  messageNode(message) {
    const time = h("time", { className: "message-time", dateTime: new Date(message.createdAt).toISOString(), title: fullTime(message.createdAt) },
      clockTime(message.createdAt));
    const edited = h("span", { className: "message-edited", dataset: { testid: "message-edited" }, hidden: true }, "edited");
    const meta = h("span", { className: "message-meta" }, edited, time);
    // tabIndex -1: a reply's quote moves focus here, so the keyboard follows the scroll.
    const bubble = h("div", { className: "bubble", tabIndex: -1 }, meta);
    const actionButton = (name, testid, label, paths, onclick) => h("button", {
      type: "button", className: `icon-btn message-action message-action--${name}`, dataset: { testid },
      "aria-label": label, title: label, onclick,
    }, icon(paths));
    const actions = h("div", { className: "message-actions", role: "group", "aria-label": "Message actions" },
      actionButton("reply", "message-reply", "Reply", ICONS.reply, () => this.startReply(message)));
    if (message.own) {
      actions.append(
        actionButton("edit", "message-edit", "Edit", ICONS.pencil, () => this.startEditing(message)),
        actionButton("delete", "message-delete", "Delete for everyone", ICONS.trash, () => this.confirmDelete(message)));
    }
    const node = h("li", { className: `message ${message.own ? "message--own" : "message--theirs"}`, dataset: { testid: "message" } },
      h("div", { className: "message-row" }, bubble, actions));
    if (message.own) {
      meta.append(h("span", { className: "tick", role: "img" }));
      node.append(h("button", { type: "button", className: "btn btn-ghost retry", hidden: true, onclick: () => this.actions.retry(message) }, "Retry"));
    }
    return node;
  }

  updateMessageNode(node, message, previous) {
    // Messages from the same person within a few minutes sit together, without repeated spacing.
    const grouped = previous && previous.own === message.own && message.createdAt - previous.createdAt < 5 * 60 * 1000;
    node.classList.toggle("message--grouped", Boolean(grouped));
    if (message.id !== undefined) node.dataset.messageId = String(message.id);
    node.classList.toggle("message--deleted", message.deleted);
    this.fillBubble(node, message);
    const actions = node.querySelector(".message-actions");
    actions.hidden = message.deleted || message.id === undefined || this.editing === message;
    const edit = node.querySelector(".message-action--edit");
    if (edit) edit.hidden = !canEdit(message) || this.composer.hidden;
    node.querySelector(".message-action--reply").hidden = this.composer.hidden;
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

  /**
   * The bubble's parts above its time: the quote of the message replied to, the file, the text
   * (or the editor, or "Message deleted"). Rebuilt only when what they show changed, so an open
   * editor keeps what is typed in it while other messages arrive.
   */
  fillBubble(node, message) {
    const quoted = message.replyTo !== undefined && !message.deleted ? this.chat.byId.get(message.replyTo) ?? null : undefined;
    const editing = this.editing === message;
    const uploadFailed = Boolean(message.file) && message.status === "failed";
    const shown = JSON.stringify([message.content, message.deleted, message.attachment, Boolean(message.file), uploadFailed, editing,
      message.replyTo, quoted && [quoted.content, quoted.deleted, quoted.attachment?.name]]);
    const bubble = node.querySelector(".bubble");
    const meta = bubble.querySelector(".message-meta");
    meta.querySelector(".message-edited").hidden = !message.editedAt || message.deleted;
    if (node.shown === shown) return;
    node.shown = shown;
    const parts = [];
    if (message.deleted) {
      parts.push(h("p", { className: "message-text message-text--deleted", dataset: { testid: "message-deleted" } },
        icon(ICONS.ban), "Message deleted"));
    } else {
      if (quoted !== undefined) parts.push(this.quoteNode(message.replyTo, quoted));
      if (message.attachment) parts.push(this.attachmentNode(message));
      if (editing) parts.push(this.editorNode(message));
      else if (message.content) parts.push(h("p", { className: "message-text", dataset: { testid: "message-text" } }, message.content));
    }
    bubble.replaceChildren(...parts, meta);
  }

  quoteNode(id, quoted) {
    const who = quoted ? authorName(quoted, this.chat) : "Earlier message";
    const text = quoted ? snippet(quoted) : "Show the message this replies to";
    return h("button", {
      type: "button",
      className: "reply-quote",
      dataset: { testid: "reply-quote", replyTo: String(id) },
      "aria-label": `Reply to ${who}: ${text}. Show that message.`,
      onclick: () => this.actions.showMessage(id),
    }, h("span", { className: "reply-quote-name" }, who), h("span", { className: "reply-quote-text" }, text));
  }

  attachmentNode(message) {
    const { attachment } = message;
    const details = h("span", { className: "attachment-text" },
      h("span", { className: "attachment-name", dataset: { testid: "attachment-name" } }, attachment.name),
      h("span", { className: "attachment-size" }, fileSize(attachment.size)));
    const card = h("div", { className: "attachment", dataset: { testid: "attachment" } }, icon(ICONS.file, "icon attachment-icon"), details);
    if (attachment.id === undefined) {
      // Still on its way up: fetch() reports no upload progress, so the state is all there is.
      card.append(h("span", { className: "attachment-state", dataset: { testid: "upload-pending" }, role: "status" },
        message.status === "failed" ? "Upload failed" : "Uploading…"));
      return card;
    }
    const button = h("button", {
      type: "button",
      className: "icon-btn attachment-download",
      dataset: { testid: "attachment-download" },
      "aria-label": `Download ${attachment.name}`,
      title: "Download",
    }, icon(ICONS.download));
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        await this.actions.download(attachment);
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    });
    card.append(button);
    return card;
  }

  editorNode(message) {
    const id = `edit-${message.key}`;
    const field = h("textarea", { id, className: "edit-input", rows: 1, dataset: { testid: "edit-input" }, "aria-describedby": `${id}-hint` });
    field.value = message.content;
    const save = () => this.finishEditing(field.value.trim());
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.stopPropagation();  // cancels the edit, not the conversation
        this.finishEditing();
      }
    });
    return h("form", { className: "edit-form", onsubmit: (event) => { event.preventDefault(); save(); } },
      h("label", { className: "visually-hidden", htmlFor: id }, "Edit message"),
      field,
      h("span", { id: `${id}-hint`, className: "visually-hidden" }, "Enter saves, Escape cancels"),
      h("span", { className: "edit-actions" },
        h("button", { type: "button", className: "btn btn-ghost", dataset: { testid: "edit-cancel" }, onclick: () => this.finishEditing() }, "Cancel"),
        h("button", { type: "submit", className: "btn btn-ghost", dataset: { testid: "edit-save" } }, "Save")));
  }
}

/** Who wrote a message, as a reply's quote names them. */
function authorName(message, chat) {
  return message.own ? "You" : displayName(chat.user);
}

/** A message shortened for a quote or the reply bar. */
function snippet(message) {
  if (message.deleted) return "Message deleted";
  const text = message.content || (message.attachment ? `File: ${message.attachment.name}` : "");
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
}
