// The Chatrix web client: signs in (or restores the session), then keeps the chat list, the open
// conversation and the connection state in step with the server through the SDK. The SDK keeps
// this browser's position in the user's event stream, so a reload or a reconnect catches up on
// what happened meanwhile (messages, edits, deletes, what your other devices read). Who is online
// or typing and whom you blocked live beside the chats (people-store.js); the account settings
// rename, hide your presence, unblock, export and delete the account.
import { ChatrixClient } from "./sdk/index.js";
import { ChatStore } from "./js/chat-store.js";
import { PeopleStore } from "./js/people-store.js";
import { TypingSender } from "./js/typing.js";
import { h } from "./js/dom.js";
import { clearSession, loadSession, saveSession } from "./js/session.js";
import { LoginView, errorText } from "./js/login-view.js";
import { SidebarView } from "./js/sidebar-view.js";
import { ConversationView } from "./js/conversation-view.js";
import { SettingsView } from "./js/settings-view.js";

/** Messages per history request: a screenful or two, and one request when opening a chat. */
const HISTORY_PAGE = 50;
/** Conversations per request when the chat list is scrolled past the 200 sent at connect. */
const PREVIEWS_PAGE = 50;
/** Pages of history fetched at most to find the message a reply quotes (5000 messages back). */
const MAX_PAGES_TO_QUOTED = 100;
/**
 * A downloaded file's object URL is released after this long: the browser reads it after the
 * click returns, so at once would be too early.
 */
const DOWNLOAD_URL_LIFETIME_MS = 60_000;
const TOAST_MS = 5000;
const QUIET_ERRORS = new Set(["network", "unauthorized", "closed", "logged_out"]);
/** ERR about a typing frame: typing is advisory, a refusal of it is worth no toast. */
const TYPING_EVENT = 17;
/** The chat list's times say "12:30", then "Mon", then "3 Dec": redrawn each minute to stay true. */
const LIST_TIMES_REFRESH_MS = 60_000;

class App {
  constructor() {
    this.client = null;
    this.store = null;
    this.people = null;
    this.typing = null;
    /** Set while DELETE /v1/me runs: the sockets it closes must not read as an expired session. */
    this.deletingAccount = false;
    this.activeUserId = null;
    this.pendingByMark = new Map();
    this.unsubscribe = [];
    /** From the connect's previews to SYNCED: events then are older than the previews' counts. */
    this.catchingUp = false;
    this.loadingPreviews = false;
    this.signedIn = document.getElementById("signed-in");
    this.offlineBanner = document.getElementById("offline-banner");
    this.toast = document.getElementById("toast");

    this.login = new LoginView({
      login: (username, password) => this.signIn((client) => client.login(username, password)),
      register: (username, password, name) => this.signIn((client) => client.register(username, password, name || undefined)),
    });
    this.sidebar = new SidebarView({
      open: (user) => this.openChat(user),
      // The server finds you too; a chat with yourself is refused (self_message), so you are left out.
      search: async (query) => (await this.client.search(query)).filter((user) => user.id !== this.store.me.id),
      logout: () => this.logout(),
      more: () => this.loadMorePreviews(),
      settings: () => this.openSettings(),
    });
    this.conversation = new ConversationView({
      send: (text, options) => this.send(text, options),
      attach: (files, options) => this.attach(files, options),
      edit: (message, content) => this.edit(message, content),
      delete: (message) => this.deleteMessage(message),
      download: (attachment) => this.download(attachment),
      showMessage: (id) => this.showMessage(id),
      loadEarlier: () => this.loadEarlier(),
      back: () => this.goBack(),
      retry: (message) => this.retry(message),
      typing: (hasText) => this.composerChanged(hasText),
      stopTyping: () => this.typing?.stop(),
      block: (user) => this.block(user),
      unblock: (user) => this.unblock(user).catch((error) => this.showToast(`Not unblocked: ${errorText(error)}`)),
    });
    this.settings = new SettingsView({
      load: () => this.client.me(),
      rename: (name) => this.updateMe({ name }),
      showPresence: (show) => this.updateMe({ showPresence: show }),
      unblock: (user) => this.unblock(user),
      download: () => this.downloadData(),
      deleteAccount: (password) => this.deleteAccount(password),
    });
    document.addEventListener("visibilitychange", () => this.markActiveRead());
    setInterval(() => {
      if (!this.store) return;
      this.renderChats();
      this.renderPeer();
    }, LIST_TIMES_REFRESH_MS);
    // An open conversation is a step in the browser's history, so a phone's back gesture (or
    // the browser's back button) returns to the chat list instead of leaving the app.
    window.addEventListener("popstate", (event) => {
      const user = this.store?.chats.get(event.state?.chatUserId)?.user;
      if (user) this.openChat(user, { fromHistory: true });
      else this.closeChat();
    });
  }

  start() {
    document.getElementById("boot").hidden = true;
    // After a reload no conversation is open, whatever the history entry says.
    if (history.state?.chatUserId !== undefined) history.replaceState(null, "");
    const session = loadSession();
    if (session) this.enter(new ChatrixClient({ token: session.token }), session.user);
    else this.login.show();
  }

  async signIn(action) {
    const client = new ChatrixClient();
    const session = await action(client);
    saveSession(session);
    this.enter(client, session.user);
  }

  enter(client, user) {
    this.client = client;
    this.store = new ChatStore(user);
    this.people = new PeopleStore();
    this.typing = new TypingSender((to, typing) => client.setTyping(to, typing));
    this.login.hide();
    this.signedIn.hidden = false;
    this.sidebar.setMe(user);
    this.sidebar.setConnection(client.state);
    this.renderChats();
    const on = (event, listener) => this.unsubscribe.push(client.on(event, listener));
    on("state", (state) => this.onState(state));
    on("profile", (profile) => this.onProfile(profile));
    on("previews", (previews) => this.onPreviews(previews));
    on("message", (message) => this.onMessage(message));
    on("delivered", (delivered) => this.onDelivered(delivered));
    on("received", ({ messageIds }) => this.onOwnStatus(messageIds, "delivered"));
    on("read", ({ messageIds }) => this.onOwnStatus(messageIds, "read"));
    on("synced", () => { this.catchingUp = false; });
    on("edited", (edit) => this.onChanged(this.store.applyEdit(edit)));
    on("deleted", (deletion) => this.onChanged(this.store.applyDelete(deletion)));
    on("readState", (readState) => this.onChanged(this.store.applyReadState(readState, { catchingUp: this.catchingUp })));
    on("typing", ({ fromId, typing }) => this.onPeopleChanged(fromId, this.people.setTyping(fromId, typing)));
    on("presence", ({ userId, online, lastSeen }) => this.onPeopleChanged(userId, this.people.applyPresence(userId, { online, lastSeen })));
    on("error", (error) => this.onError(error));
    on("signedOut", (reason) => {
      if (this.deletingAccount) return;  // deleteAccount() ends the session with its own words
      this.endSession(reason?.code === "logged_out" ? "" : "Your session has ended. Please log in again.");
    });
    client.connect().catch((error) => {
      if (this.client === client && error?.code !== "unauthorized") this.showToast(errorText(error));
    });
  }

  endSession(notice = "") {
    this.typing?.sent();  // the client closes (its repeats end with it); no pause timer may call it after
    this.settings.close();
    for (const off of this.unsubscribe.splice(0)) off();
    this.client?.close();
    this.client = null;
    this.store = null;
    this.people = null;
    this.typing = null;
    this.deletingAccount = false;
    this.pendingByMark.clear();
    this.catchingUp = false;
    clearSession();
    this.closeChat();
    this.sidebar.reset();
    this.signedIn.hidden = true;
    document.title = "Chatrix";
    this.login.show(notice);
  }

  async logout() {
    try {
      await this.client?.logout();
    } catch {
      // The token dies with its expiry anyway; signing out here must not depend on the server.
    }
    this.endSession();
  }

  // ---- server events ----

  onState(state) {
    this.sidebar.setConnection(state);
    this.offlineBanner.hidden = state === "open" || state === "idle";
    // Disconnected, no typing:false can reach this device: nobody shows as typing until it is back.
    if (state !== "open" && this.people?.clearTyping()) {
      this.renderChats();
      this.renderPeer();
    }
  }

  /** A typing or presence change about `userId` (`changed`: it shows differently now). */
  onPeopleChanged(userId, changed) {
    if (!changed) return;
    if (userId === this.activeUserId) this.renderPeer();
    if (this.store.chats.has(userId)) this.renderChats();
  }

  onProfile(profile) {
    this.store.me = profile;
    saveSession({ token: this.client.token, user: profile });
    this.sidebar.setMe(profile);
  }

  /** After every (re)connect: the chat list as the server has it, and the open chat caught up. */
  onPreviews(previews) {
    this.store.applyPreviews(previews);
    this.people.applyPreviews(previews);
    this.loadBlocks();
    this.catchingUp = true;
    // Without a stream position (the first connect, or one the server no longer keeps) what
    // happened while disconnected is not replayed: conversations loaded before are fetched
    // again, the open one now, the others when next opened. With one, the catch-up brings it
    // all and this finds nothing new: one history request per reconnect buys the certainty.
    for (const chat of this.store.chats.values()) if (chat.loaded) chat.stale = true;
    const chat = this.activeChat();
    if (chat?.loaded) this.loadLatest(chat);
    this.renderChats();
    this.renderPeer();
  }

  /**
   * Whom you blocked, after each connect: another device of yours may have changed it (no event
   * says so), and the header's button and the composer follow it.
   */
  async loadBlocks() {
    const client = this.client;
    try {
      const blocks = await client.blocks();
      if (client !== this.client) return;
      this.people.setBlocks(blocks);
      this.renderPeopleLists();
    } catch (error) {
      if (client === this.client && !QUIET_ERRORS.has(error?.code)) this.showToast(`Could not load the people you blocked: ${errorText(error)}`);
    }
  }

  /** An edit, delete or read state changed this chat (null: one this client does not know). */
  onChanged(chat) {
    if (!chat) return;
    if (chat === this.activeChat()) this.conversation.render();
    this.renderChats();
  }

  /** The chat list scrolled to its end: the next page of older conversations. */
  async loadMorePreviews() {
    if (!this.store?.morePreviews || this.loadingPreviews) return;
    this.loadingPreviews = true;
    this.sidebar.setMore(true, true);
    const client = this.client;
    try {
      const page = await client.previews({ before: this.store.previewsCursor, limit: PREVIEWS_PAGE });
      if (client !== this.client) return;
      this.store.applyPreviews(page, { page: true, limit: PREVIEWS_PAGE });
      this.people.applyPreviews(page);
      this.renderChats();
    } catch (error) {
      if (client === this.client) this.showToast(`Could not load more conversations: ${errorText(error)}`);
    } finally {
      this.loadingPreviews = false;
      if (this.store) this.sidebar.setMore(this.store.morePreviews, false);
    }
  }

  onMessage(message) {
    const { chat } = this.store.addMessage(message, message.own);
    const stoppedTyping = !message.own && this.people.messageFrom(message.fromId);
    if (chat.user.id === this.activeUserId) {
      this.conversation.render();
      if (stoppedTyping) this.renderPeer();
      this.markActiveRead();
    }
    this.renderChats();
  }

  onDelivered(delivered) {
    const pending = this.pendingByMark.get(String(delivered.mark));
    if (!pending) return;
    this.store.markStored(pending.chat, pending.message, delivered);
    this.pendingByMark.delete(String(delivered.mark));
    this.renderChat(pending.chat);
  }

  onOwnStatus(messageIds, status) {
    const changed = this.store.advanceOwn(messageIds, status);
    if (changed.has(this.activeUserId)) this.conversation.render();
  }

  onError(error) {
    // Answers to this client's own requests come back through their promises, and a connection
    // that fails shows in the connection state (the SDK reports each failed attempt here too);
    // what is left is worth a word only when it says something a person can act on.
    if (error?.refType === TYPING_EVENT) return;
    if (error?.code && !QUIET_ERRORS.has(error.code)) this.showToast(errorText(error));
  }

  // ---- actions ----

  activeChat() {
    return this.activeUserId === null ? null : this.store?.chats.get(this.activeUserId) ?? null;
  }

  openChat(user, { fromHistory = false } = {}) {
    if (!fromHistory) {
      if (this.activeUserId === null) history.pushState({ chatUserId: user.id }, "");
      else history.replaceState({ chatUserId: user.id }, "");
    }
    const chat = this.store.chatWith(user);
    chat.listed = true;
    if (this.activeUserId !== user.id) this.typing.stop();
    this.activeUserId = user.id;
    document.body.classList.add("chat-open");
    this.conversation.open(chat);
    this.renderPeer();
    this.conversation.focus();
    this.renderChats();
    if (chat.loaded && !chat.stale) this.markActiveRead();
    else this.loadLatest(chat);
  }

  /** The back button and Escape: the way the conversation was entered, if it was through history. */
  goBack() {
    if (history.state?.chatUserId !== undefined) history.back();
    else this.closeChat();
  }

  closeChat() {
    this.typing?.stop();
    const userId = this.activeUserId;
    this.activeUserId = null;
    document.body.classList.remove("chat-open");
    this.conversation.close();
    if (this.store) this.renderChats();
    if (userId !== null) document.querySelector(`[data-testid="chat-item"][data-user-id="${userId}"]`)?.focus();
  }

  async loadLatest(chat) {
    if (chat.loadingLatest) return;
    chat.loadingLatest = true;
    const client = this.client;
    if (chat === this.activeChat()) this.conversation.setLoading(true);
    try {
      const page = await client.history(chat.user, { limit: HISTORY_PAGE });
      if (client !== this.client) return;
      this.store.mergeHistory(chat, page, { latest: true, limit: HISTORY_PAGE });
      chat.stale = false;
      if (chat === this.activeChat()) {
        this.conversation.render({ toEnd: true });
        this.markActiveRead();
      }
      this.renderChats();
    } catch (error) {
      if (client === this.client) this.showToast(`Could not load messages: ${errorText(error)}`);
    } finally {
      chat.loadingLatest = false;
      if (chat === this.activeChat()) this.conversation.setLoading(false);
    }
  }

  async loadEarlier() {
    const chat = this.activeChat();
    const oldest = chat?.messages.find((m) => m.id !== undefined);
    if (!chat || !chat.hasEarlier || chat.loadingEarlier || !oldest) return;
    chat.loadingEarlier = true;
    this.conversation.setLoading(true);
    const client = this.client;
    try {
      const page = await client.history(chat.user, { beforeId: oldest.id, limit: HISTORY_PAGE });
      if (client !== this.client) return;
      this.store.mergeHistory(chat, page, { latest: false, limit: HISTORY_PAGE });
      if (chat === this.activeChat()) this.conversation.render({ keepPosition: true });
    } catch (error) {
      if (client === this.client) this.showToast(`Could not load earlier messages: ${errorText(error)}`);
    } finally {
      chat.loadingEarlier = false;
      if (chat === this.activeChat()) this.conversation.setLoading(false);
    }
  }

  /** Marks what the person can see as read: only with the conversation open and the page visible. */
  markActiveRead() {
    const chat = this.activeChat();
    if (!chat?.loaded || document.visibilityState !== "visible") return;
    const hadUnread = chat.unread > 0;
    const ids = this.store.takeUnreadIds(chat);
    if (ids.length) this.client.markRead(chat.user, ids);
    if (hadUnread || ids.length) this.renderChats();
  }

  /** A key in the composer: the person you write to is told you are typing (typing.js decides when). */
  composerChanged(hasText) {
    const chat = this.activeChat();
    if (chat) this.typing.input(chat.user.username, hasText);
  }

  send(text, { replyTo } = {}) {
    const chat = this.activeChat();
    if (!chat) return;
    const { message } = this.store.addSending(chat.user, text, newMark(), { replyTo });
    this.typing.sent();
    this.deliver(chat, message);
    this.conversation.render({ toEnd: true });  // what you just wrote is in view, wherever you were
  }

  /** Each file is a message of its own, shown at once and uploaded before it is sent. */
  attach(files, { replyTo } = {}) {
    const chat = this.activeChat();
    if (!chat) return;
    files.forEach((file, index) => {
      const { message } = this.store.addSending(chat.user, "", newMark(), { file, replyTo: index === 0 ? replyTo : undefined });
      this.deliver(chat, message);
    });
    this.conversation.render({ toEnd: true });
  }

  /** Shown at once; the EDIT event from the server confirms it, an error puts the old text back. */
  edit(message, content) {
    const chat = this.store.chats.get(message.chatUserId);
    if (!content && !message.attachment) {
      this.showToast("A message needs some text; delete it instead.");
      return;
    }
    this.store.startEdit(message, content);
    this.renderChat(chat);
    const client = this.client;
    client.edit(message.id, content).catch((error) => {
      if (client !== this.client) return;
      this.store.revertEdit(message);
      this.renderChat(chat);
      this.showToast(`Not edited: ${errorText(error)}`);
    });
  }

  /** Deleted for everyone: the DELETE event turns the bubble into "message deleted" on every device. */
  deleteMessage(message) {
    const client = this.client;
    client.delete([message.id]).catch((error) => {
      if (client === this.client) this.showToast(`Not deleted: ${errorText(error)}`);
    });
  }

  /**
   * Files are served only with the token (and as attachments), so a plain link cannot fetch them:
   * the SDK fetches with the Bearer header and the browser saves what it got.
   */
  async download(attachment) {
    const client = this.client;
    try {
      this.save(await client.downloadFile(attachment.id), attachment.name);
    } catch (error) {
      if (client === this.client) this.showToast(`Could not download ${attachment.name}: ${errorText(error)}`);
    }
  }

  /** Hands the browser a file to save under `name`. */
  save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), DOWNLOAD_URL_LIFETIME_MS);
  }

  /** A reply's quote was clicked: scrolls to the original, loading earlier pages until it is there. */
  async showMessage(id) {
    const chat = this.activeChat();
    for (let pages = 0; chat && !chat.byId.has(id) && chat.hasEarlier && pages < MAX_PAGES_TO_QUOTED; pages++) {
      await this.loadEarlier();
      if (chat !== this.activeChat()) return;
    }
    if (!this.conversation.scrollToMessage(id)) this.showToast("That message is no longer in this conversation.");
  }

  retry(message) {
    const chat = this.store.chats.get(message.chatUserId);
    if (!chat) return;
    message.status = "sending";
    this.deliver(chat, message);
  }

  /**
   * Sends and follows one message: the SDK resends it with the same mark after a reconnect. A
   * file goes up first; a failed upload is retried with the message.
   */
  async deliver(chat, message) {
    const client = this.client;
    this.pendingByMark.set(message.mark, { chat, message });
    this.renderChat(chat);
    if (message.file) {
      try {
        const uploaded = await client.uploadFile(message.file, { name: message.file.name, type: message.file.type });
        if (client !== this.client) return;
        this.store.markUploaded(message, uploaded);
        this.renderChat(chat);
      } catch (error) {
        if (client !== this.client) return;
        this.store.markFailed(message, errorText(error));
        this.pendingByMark.delete(message.mark);
        this.renderChat(chat);
        this.showToast(`File not sent: ${errorText(error)}`);
        return;
      }
    }
    const options = { mark: message.mark };
    if (message.replyTo !== undefined) options.replyTo = message.replyTo;
    if (message.attachment) options.attachment = message.attachment.id;
    client.send(chat.user, message.content, options).then(
      (delivered) => {
        if (client !== this.client) return;
        this.store.markStored(chat, message, delivered);
        this.pendingByMark.delete(message.mark);
        this.renderChat(chat);
      },
      (error) => {
        if (client !== this.client) return;
        this.store.markFailed(message, errorText(error));
        this.pendingByMark.delete(message.mark);
        this.renderChat(chat);
        this.showToast(`Message not sent: ${errorText(error)}`);
      },
    );
  }

  // ---- people: blocking and the account ----

  /** Blocks after the header's confirmation; the server hides their new messages from you from now on. */
  async block(user) {
    const client = this.client;
    try {
      const entry = await client.block(user.username);
      if (client !== this.client) return;
      this.people.block(entry);
      this.renderPeopleLists();
    } catch (error) {
      if (client === this.client) this.showToast(`Not blocked: ${errorText(error)}`);
    }
  }

  /** Unblocks (from the header or the settings); someone not blocked any more counts as done. */
  async unblock(user) {
    const client = this.client;
    try {
      await client.unblock(user.username);
    } catch (error) {
      if (error?.code !== "not_found") throw error;
    }
    if (client !== this.client) return;
    this.people.unblock(user.id);
    this.renderPeopleLists();
  }

  openSettings() {
    this.settings.open(this.store.me, this.people.blockedList());
  }

  /** PATCH /v1/me: the new name shows here at once, and to others from their next connect. */
  async updateMe(changes) {
    const client = this.client;
    const profile = await client.updateMe(changes);
    if (client !== this.client) return;
    this.onProfile({ ...this.store.me, ...profile });
  }

  /** GET /v1/me/export, saved as a file the way the server names it. */
  async downloadData() {
    const data = await this.client.exportAccount();
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    this.save(blob, `chatrix-export-${this.store.me.username}.json`);
  }

  /** DELETE /v1/me with the password; then this device is signed out like every other one. */
  async deleteAccount(password) {
    const client = this.client;
    this.deletingAccount = true;
    try {
      await client.deleteAccount(password);
    } catch (error) {
      this.deletingAccount = false;
      throw error;
    }
    if (client === this.client) this.endSession("Your account was deleted.");
  }

  // ---- rendering ----

  /** The open conversation's header, typing line and composer notice. */
  renderPeer() {
    const chat = this.activeChat();
    if (!chat) return;
    const id = chat.user.id;
    this.conversation.renderPeer({
      presence: this.people.presenceOf(id),
      typing: this.people.isTyping(id),
      blocked: this.people.isBlocked(id),
    });
  }

  /** Whom you blocked changed: the header, the chat list and the settings' list follow. */
  renderPeopleLists() {
    this.renderPeer();
    this.renderChats();
    this.settings.setBlocked(this.people.blockedList());
  }

  renderChat(chat) {
    if (chat === this.activeChat()) this.conversation.render();
    this.renderChats();
  }

  renderChats() {
    const chats = this.store.sortedChats();
    this.sidebar.renderChats(chats, this.activeUserId, this.store.me.id, this.people);
    if (!this.loadingPreviews) this.sidebar.setMore(this.store.morePreviews, false);
    const unread = chats.reduce((sum, chat) => sum + chat.unread, 0);
    document.title = unread ? `(${unread}) Chatrix` : "Chatrix";
  }

  showToast(text) {
    this.toast.textContent = text;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toast.hidden = true; }, TOAST_MS);
  }
}

/** A mark unique to this message, so a resend after a reconnect is stored once. */
function newMark() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

new App().start();
