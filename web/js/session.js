// The signed-in session kept across reloads: the token and who it belongs to, in localStorage
// (per origin; a private window or a blocked storage just means logging in again).

const KEY = "chatrix.session";

export function loadSession() {
  try {
    const session = JSON.parse(localStorage.getItem(KEY) ?? "null");
    return typeof session?.token === "string" && session.user?.id ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ token: session.token, user: session.user }));
  } catch {
    // Storage full or blocked: the session still works until the page closes.
  }
}

export function clearSession() {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}
