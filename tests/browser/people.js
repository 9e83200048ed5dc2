// What the browser tests do as a person: sign up or in through the form, and find a message on
// the page by its text.

/** The element with this data-testid (docs/web-client.md lists them). */
export function byTestId(page, id) {
  return page.getByTestId(id);
}

/** Creates the account through the form; the password is derived from the username. */
export async function register(page, username, name) {
  await byTestId(page, "login-username").fill(username);
  await byTestId(page, "login-password").fill(`${username} password`);
  await byTestId(page, "login-name").fill(name);
  await byTestId(page, "register-submit").click();
  await byTestId(page, "search-input").waitFor();
}

/** Logs in an account register() made. */
export async function login(page, username) {
  await byTestId(page, "login-username").fill(username);
  await byTestId(page, "login-password").fill(`${username} password`);
  await byTestId(page, "login-submit").click();
  await byTestId(page, "search-input").waitFor();
}

/** The messages whose own text contains `text` (a reply's quote of it does not count). */
export function message(page, text) {
  return byTestId(page, "message").filter({ has: byTestId(page, "message-text").filter({ hasText: text }) });
}
