// How people, times, days and sizes are shown: names (a deleted account's too), initials and a
// stable colour for avatars, clock times, day labels, the short times of the chat list, "last
// seen" and file sizes. Locale-aware through Intl, no clock of its own.

const AVATAR_COLOURS = 8;

/** One or two letters for an avatar: the first letters of the first two words of the name. */
export function initials(user) {
  const words = (user.name || user.username || "?").trim().split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[1]] : [words[0] ?? "?"];
  return letters.map((w) => Array.from(w)[0]).join("").toUpperCase();
}

/** A colour class chosen by the username, so a person keeps their colour on every screen. */
export function avatarColourClass(user) {
  let hash = 0;
  for (const ch of (user.username || "").toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `avatar--c${hash % AVATAR_COLOURS}`;
}

/** A deleted account: the server keeps it in the conversations that name it, flagged, without its username. */
export function isDeleted(user) {
  return user.deleted === true;
}

export function displayName(user) {
  if (isDeleted(user)) return "Deleted account";
  return user.name && user.name.trim() ? user.name : user.username;
}

/** "@bob", or nothing for a deleted account (its username is free for someone else). */
export function handle(user) {
  return isDeleted(user) ? "" : `@${user.username}`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const shortDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDate = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

const DAY_MS = 24 * 60 * 60 * 1000;

function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function clockTime(ms) {
  return clock.format(ms);
}

export function fullTime(ms) {
  return full.format(ms);
}

/** A key that is the same for two times on the same local day. */
export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday" or the date, for the separators between days of a conversation. */
export function dayLabel(ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return longDate.format(ms);
}

/** The chat list's time: the clock today, the weekday this week, the date before that. */
export function listTime(ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (days === 0) return clockTime(ms);
  if (days < 7) return weekday.format(ms);
  return shortDate.format(ms);
}

/** The conversation header's line: "last seen today at 12:30", "... Mon at 9:05", "... 3 Dec". */
export function lastSeenText(ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (days === 0) return `last seen today at ${clockTime(ms)}`;
  if (days === 1) return `last seen yesterday at ${clockTime(ms)}`;
  if (days < 7) return `last seen ${weekday.format(ms)} at ${clockTime(ms)}`;
  return `last seen ${shortDate.format(ms)}`;
}

const SIZE_UNITS = ["KB", "MB", "GB"];
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** "512 bytes", "1.5 KB", "24 MB": powers of 1024, one decimal at most. */
export function fileSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < SIZE_UNITS.length - 1);
  return `${number.format(value)} ${SIZE_UNITS[unit]}`;
}
