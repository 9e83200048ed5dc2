// Account settings, a modal dialog: your display name, whether others see you online and when
// you were last seen, the people you blocked (each with Unblock), a download of all your data,
// and deleting the account (with your password). Each control reports to the app and shows the
// outcome in the dialog itself.
import { h } from "./dom.js";
import { avatar } from "./avatar.js";
import { displayName } from "./format.js";
import { errorText } from "./login-view.js";

/** The settings' own words for what the server may refuse here. */
const MESSAGES = {
  bad_credentials: "That is not your password.",
  rate_limited: "Too many attempts. Please wait a moment and try again.",
};

function settingsErrorText(error) {
  return MESSAGES[error?.code] ?? errorText(error);
}

export class SettingsView {
  /**
   * @param {{ load(): Promise<{name: string, showPresence: boolean}>, rename(name: string): Promise<void>,
   *   showPresence(show: boolean): Promise<void>, unblock(user: object): Promise<void>, download(): Promise<void>,
   *   deleteAccount(password: string): Promise<void> }} actions
   */
  constructor(actions) {
    this.actions = actions;
    this.dialog = document.getElementById("settings-dialog");
    this.nameInput = document.getElementById("settings-name");
    this.showPresence = document.getElementById("settings-show-presence");
    this.blockedList = document.getElementById("blocked-list");
    this.blockedEmpty = document.getElementById("blocked-empty");
    this.exportButton = document.getElementById("settings-export");
    this.password = document.getElementById("settings-delete-password");
    this.status = document.getElementById("settings-status");
    this.error = document.getElementById("settings-error");
    this.loadSeq = 0;

    document.getElementById("settings-close").addEventListener("click", () => this.close());
    document.getElementById("settings-profile").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = this.nameInput.value.trim();
      if (!name) {
        this.fail("A display name cannot be empty.", this.nameInput);
        return;
      }
      this.run(event.submitter ?? event.target, () => actions.rename(name), "Name saved.");
    });
    this.showPresence.addEventListener("change", () => {
      const show = this.showPresence.checked;
      this.run(this.showPresence, () => actions.showPresence(show),
        show ? "Others see when you are online again." : "Your online status and last seen are hidden.",
        () => { this.showPresence.checked = !show; });
    });
    this.exportButton.addEventListener("click", () => this.run(this.exportButton, () => actions.download(), "Your data was downloaded."));
    document.getElementById("settings-delete").addEventListener("submit", (event) => {
      event.preventDefault();
      const password = this.password.value;
      if (!password) {
        this.fail("Enter your password to delete your account.", this.password);
        return;
      }
      this.run(event.submitter ?? event.target, () => actions.deleteAccount(password), "", () => {
        this.password.value = "";
        this.password.focus();
      });
    });
    this.dialog.addEventListener("close", () => {
      this.password.value = "";
      this.loadSeq += 1;
    });
  }

  /** Opens with what is known now (`me`, the people blocked); the privacy switch waits for GET /v1/me. */
  async open(me, blocked) {
    this.setMessage("", "");
    this.nameInput.value = me.name ?? "";
    this.nameInput.removeAttribute("aria-invalid");
    this.password.removeAttribute("aria-invalid");
    this.password.value = "";
    this.setBlocked(blocked);
    this.showPresence.disabled = true;
    if (!this.dialog.open) this.dialog.showModal();
    const seq = ++this.loadSeq;
    try {
      const profile = await this.actions.load();
      if (seq !== this.loadSeq) return;
      this.showPresence.checked = profile.showPresence !== false;
      this.showPresence.disabled = false;
    } catch (error) {
      if (seq === this.loadSeq) this.fail(`Could not load your settings: ${settingsErrorText(error)}`);
    }
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** The people you blocked, most recent first, each with an Unblock button. */
  setBlocked(blocked) {
    this.blockedList.replaceChildren(...blocked.map((user) => {
      const name = displayName(user);
      const button = h("button", {
        type: "button", className: "btn btn-ghost", dataset: { testid: "blocked-unblock" }, "aria-label": `Unblock ${name}`,
      }, "Unblock");
      button.addEventListener("click", () => this.run(button, () => this.actions.unblock(user), `${name} is unblocked.`));
      return h("li", { className: "blocked-user", dataset: { testid: "blocked-user", userId: String(user.id) } },
        avatar(user, "avatar--sm"),
        h("span", { className: "person-text" },
          h("span", { className: "person-name" }, name),
          h("span", { className: "person-username" }, `@${user.username}`)),
        button);
    }));
    this.blockedEmpty.hidden = blocked.length > 0;
  }

  /** Runs one control's action with the control disabled; says how it went. */
  async run(control, action, done, undo = () => {}) {
    this.setMessage("", "");
    control.disabled = true;
    control.setAttribute("aria-busy", "true");
    try {
      await action();
      this.setMessage(done, "");
    } catch (error) {
      undo();
      this.setMessage("", settingsErrorText(error));
    } finally {
      control.disabled = false;
      control.removeAttribute("aria-busy");
    }
  }

  fail(text, field = null) {
    this.setMessage("", text);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  setMessage(status, error) {
    this.status.textContent = status;
    this.error.textContent = error;
    if (!error) for (const field of [this.nameInput, this.password]) field.removeAttribute("aria-invalid");
  }
}
