// Tells the person you write to that you are typing: true with the first key in a conversation
// (the SDK repeats it every 4 s while it holds), false when the composer is emptied, loses focus,
// goes quiet for a while or the conversation is left. A send ends it without a frame: the SDK
// stops repeating, and the other side clears the indicator when the message arrives.

/** A composer with text in it but no key pressed for this long is not "typing" any more. */
export const TYPING_IDLE_MS = 5000;

export class TypingSender {
  /** @param {(to: string, typing: boolean) => void} setTyping the SDK's setTyping */
  constructor(setTyping, idleMs = TYPING_IDLE_MS) {
    this.setTyping = setTyping;
    this.idleMs = idleMs;
    this.to = null;
    this.idleTimer = 0;
  }

  /** A key changed the composer of the conversation with `username`; `hasText`: it is not empty. */
  input(username, hasText) {
    if (!hasText) {
      this.stop();
      return;
    }
    if (this.to !== username) {
      this.stop();
      this.to = username;
      this.setTyping(username, true);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.idleMs);
  }

  /** Blur, an emptied composer, a pause, another conversation: typing:false, once. */
  stop() {
    clearTimeout(this.idleTimer);
    if (this.to === null) return;
    const to = this.to;
    this.to = null;
    this.setTyping(to, false);
  }

  /** A message went to whom you were typing to: the SDK has stopped already. */
  sent() {
    clearTimeout(this.idleTimer);
    this.to = null;
  }
}
