// The signed-out page: one form that logs in (Enter, or the first button) or creates an account
// (the second button, with the display name). Checks what it can before asking the server.

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

/** Human words for the server's stable error codes. */
const MESSAGES = {
  bad_credentials: "Wrong username or password.",
  username_taken: "That username is taken. Try another one, or log in.",
  rate_limited: "Too many attempts. Please wait a moment and try again.",
  overloaded: "The server is busy. Please try again in a moment.",
  unavailable: "The server cannot reach its database. Please try again later.",
  blocked: "You blocked this person. Unblock them to write to them.",
};

export function errorText(error) {
  if (error?.code && MESSAGES[error.code]) return MESSAGES[error.code];
  if (error?.code === "invalid_field" && error.message) return error.message;
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection.";
  return error?.message || "Something went wrong.";
}

export class LoginView {
  /** @param {{ login(u: string, p: string): Promise<void>, register(u: string, p: string, n: string): Promise<void> }} actions */
  constructor(actions) {
    this.root = document.getElementById("signed-out");
    this.form = document.getElementById("auth-form");
    this.username = document.getElementById("login-username");
    this.password = document.getElementById("login-password");
    this.name = document.getElementById("login-name");
    this.error = document.getElementById("auth-error");
    this.buttons = this.form.querySelectorAll("button");

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run((u, p) => actions.login(u, p), false);
    });
    document.getElementById("register").addEventListener("click", () => {
      this.run((u, p) => actions.register(u, p, this.name.value.trim()), true);
    });
  }

  show(notice = "") {
    this.root.hidden = false;
    this.password.value = "";
    this.setError(notice);
    (this.username.value ? this.password : this.username).focus();
  }

  hide() {
    this.root.hidden = true;
  }

  setError(text, field = null) {
    this.error.textContent = text;
    for (const input of [this.username, this.password]) input.removeAttribute("aria-invalid");
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  async run(action, registering) {
    const username = this.username.value.trim();
    const password = this.password.value;
    if (!USERNAME.test(username)) {
      this.setError("Usernames are 3–32 letters, digits, _ . or -.", this.username);
      return;
    }
    if (registering ? password.length < 8 : !password) {
      this.setError(registering ? "Passwords have at least 8 characters." : "Enter your password.", this.password);
      return;
    }
    this.setError("");
    this.form.setAttribute("aria-busy", "true");
    for (const button of this.buttons) button.disabled = true;
    try {
      await action(username, password);
    } catch (error) {
      this.setError(errorText(error), error?.code === "username_taken" ? this.username : this.password);
    } finally {
      this.form.removeAttribute("aria-busy");
      for (const button of this.buttons) button.disabled = false;
    }
  }
}
